// Status and Result<T>: expected outcomes as values.
//
// A Status is either ok or an error with a short machine-readable code and a
// human-readable message naming the operation that failed. Result<T> holds a
// T or a Status. GCC 12 has no std::expected in C++20, so this is ours.
// Value types: any thread, no shared state.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace parley {

class Status {
public:
    Status() = default;
    static Status ok() { return Status(); }
    static Status error(std::string code, std::string message) {
        Status s;
        s.code_ = std::move(code);
        s.message_ = std::move(message);
        return s;
    }
    bool is_ok() const { return code_.empty(); }
    explicit operator bool() const { return is_ok(); }
    // Short, stable identifier such as "not-found" or "io".
    const std::string& code() const { return code_; }
    const std::string& message() const { return message_; }
    std::string to_string() const { return is_ok() ? "ok" : code_ + ": " + message_; }

private:
    std::string code_;
    std::string message_;
};

template <typename T>
class Result {
public:
    Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
    Result(Status status) : status_(std::move(status)) { assert(!status_.is_ok()); }  // NOLINT
    bool is_ok() const { return value_.has_value(); }
    explicit operator bool() const { return is_ok(); }
    const Status& status() const { return status_; }
    T& value() & { assert(value_); return *value_; }
    const T& value() const& { assert(value_); return *value_; }
    T&& value() && { assert(value_); return std::move(*value_); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

private:
    std::optional<T> value_;
    Status status_;
};

}  // namespace parley
