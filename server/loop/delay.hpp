// Delay: run a function once, later, on a worker's loop, unless cancelled.
//
// The libuv timer lives in a heap object deleted from its close callback;
// the owner keeps the returned pointer only until the function runs or it
// calls cancel() (after either, the pointer is dead). Loop-affine.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>

namespace parley::loop {

class Delay {
public:
    static Delay* start(uv_loop_t* loop, uint64_t ms, std::function<void()> fn) {
        auto* d = new Delay();
        d->fn_ = std::move(fn);
        uv_timer_init(loop, &d->timer_);
        d->timer_.data = d;
        uv_timer_start(&d->timer_, &Delay::on_timer, ms, 0);
        return d;
    }
    void cancel() {
        fn_ = nullptr;
        close();
    }

private:
    Delay() = default;
    static void on_timer(uv_timer_t* t) {
        auto* d = static_cast<Delay*>(t->data);
        auto fn = std::move(d->fn_);
        d->fn_ = nullptr;
        d->close();
        if (fn) fn();
    }
    void close() {
        if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&timer_))) return;
        uv_timer_stop(&timer_);
        uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) { delete static_cast<Delay*>(h->data); });
    }
    uv_timer_t timer_{};
    std::function<void()> fn_;
};

}  // namespace parley::loop
