#include "xml_scanner.hpp"

#include <algorithm>
#include <utility>

namespace parley::bench {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

void StreamScanner::feed(std::string_view data) {
    // Drop what was handed out before appending, so the buffer holds at most
    // one incomplete element plus the new bytes.
    if (consumed_ > 0) {
        buf_.erase(0, consumed_);
        pos_ -= consumed_;
        tag_start_ = tag_start_ >= consumed_ ? tag_start_ - consumed_ : 0;
        elem_start_ = elem_start_ >= consumed_ ? elem_start_ - consumed_ : 0;
        consumed_ = 0;
    }
    buf_.append(data);
}

void StreamScanner::restart() {
    buf_.erase(0, consumed_);
    pos_ = consumed_ = tag_start_ = elem_start_ = 0;
    depth_ = 0;
    state_ = State::text;
    quote_ = 0;
    end_tag_ = false;
}

std::string StreamScanner::take_rest() {
    std::string rest = buf_.substr(consumed_);
    buf_.clear();
    restart();
    return rest;
}

bool StreamScanner::fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
}

bool StreamScanner::next(Event& ev) {
    if (failed()) return false;
    while (pos_ < buf_.size()) {
        const char c = buf_[pos_];
        switch (state_) {
        case State::text:
            if (c == '<') {
                tag_start_ = pos_;
                state_ = State::lt;
            }
            ++pos_;
            break;
        case State::lt:
            if (c == '/') {
                end_tag_ = true;
                state_ = State::tag;
                ++pos_;
            } else if (c == '?') {
                state_ = State::pi;
                ++pos_;
            } else if (c == '!') {
                // A comment, CDATA or a declaration: we need a few bytes to tell.
                const std::string_view from = std::string_view(buf_).substr(tag_start_);
                constexpr std::string_view kComment = "<!--", kCdata = "<![CDATA[";
                if (from.size() < kComment.size()) return false;
                if (from.substr(0, kComment.size()) == kComment) {
                    state_ = State::comment;
                    pos_ = tag_start_ + kComment.size();
                    break;
                }
                const size_t n = std::min(from.size(), kCdata.size());
                if (from.substr(0, n) == kCdata.substr(0, n)) {
                    if (n < kCdata.size()) return false;
                    state_ = State::cdata;
                    pos_ = tag_start_ + kCdata.size();
                    break;
                }
                end_tag_ = false;
                state_ = State::tag;
                ++pos_;
            } else {
                end_tag_ = false;
                state_ = State::tag;  // this byte is the first of the name
            }
            break;
        case State::tag:
            ++pos_;
            if (quote_ != 0) {
                if (c == quote_) quote_ = 0;
            } else if (c == '"' || c == '\'') {
                quote_ = c;
            } else if (c == '>') {
                state_ = State::text;
                if (close_tag(ev)) return true;
                if (failed()) return false;
            }
            break;
        case State::pi:
            ++pos_;
            if (c == '>' && buf_[pos_ - 2] == '?') state_ = State::text;
            break;
        case State::comment:
            ++pos_;
            if (c == '>' && pos_ >= tag_start_ + 7 && buf_.compare(pos_ - 3, 2, "--") == 0) state_ = State::text;
            break;
        case State::cdata:
            ++pos_;
            if (c == '>' && pos_ >= tag_start_ + 12 && buf_.compare(pos_ - 3, 2, "]]") == 0) state_ = State::text;
            break;
        }
    }
    // Between top-level elements nothing needs keeping.
    if (state_ == State::text && depth_ <= 1) consumed_ = pos_;
    const size_t open_from = depth_ >= 2 ? elem_start_ : tag_start_;
    if (state_ != State::text || depth_ >= 2) {
        if (buf_.size() - open_from > kMaxElementBytes)
            return fail("an element of more than " + std::to_string(kMaxElementBytes) + " bytes");
    }
    return false;
}

// A tag ended at pos_ - 1: adjust the depth and report a complete piece.
bool StreamScanner::close_tag(Event& ev) {
    if (buf_[tag_start_ + 1] == '!') return false;  // a declaration: no depth
    const bool self_closing = !end_tag_ && buf_[pos_ - 2] == '/';
    const std::string_view view = std::string_view(buf_);
    if (end_tag_) {
        if (depth_ == 0) return fail("an end tag outside the stream: " + excerpt(view.substr(tag_start_)));
        --depth_;
        if (depth_ == 1) {
            ev = {Kind::element, view.substr(elem_start_, pos_ - elem_start_)};
            consumed_ = pos_;
            return true;
        }
        if (depth_ == 0) {
            ev = {Kind::stream_close, view.substr(tag_start_, pos_ - tag_start_)};
            consumed_ = pos_;
            return true;
        }
        return false;
    }
    if (self_closing) {
        if (depth_ == 0) return fail("a self-closed stream header: " + excerpt(view.substr(tag_start_)));
        if (depth_ == 1) {
            ev = {Kind::element, view.substr(tag_start_, pos_ - tag_start_)};
            consumed_ = pos_;
            return true;
        }
        return false;
    }
    if (depth_ == 0) {
        depth_ = 1;
        ev = {Kind::stream_open, view.substr(tag_start_, pos_ - tag_start_)};
        consumed_ = pos_;
        return true;
    }
    if (depth_ == 1) elem_start_ = tag_start_;
    ++depth_;
    return false;
}

std::string_view local_name(std::string_view el) {
    if (el.empty() || el[0] != '<') return {};
    size_t i = 1;
    if (i < el.size() && el[i] == '/') ++i;
    const size_t start = i;
    while (i < el.size() && !is_space(el[i]) && el[i] != '/' && el[i] != '>') ++i;
    std::string_view name = el.substr(start, i - start);
    const size_t colon = name.find(':');
    return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

std::optional<std::string_view> attr(std::string_view el, std::string_view name) {
    size_t i = 1;
    while (i < el.size() && !is_space(el[i]) && el[i] != '/' && el[i] != '>') ++i;
    while (i < el.size()) {
        while (i < el.size() && is_space(el[i])) ++i;
        if (i >= el.size() || el[i] == '>' || el[i] == '/') return std::nullopt;
        const size_t n0 = i;
        while (i < el.size() && el[i] != '=' && !is_space(el[i]) && el[i] != '>') ++i;
        const std::string_view key = el.substr(n0, i - n0);
        while (i < el.size() && is_space(el[i])) ++i;
        if (i >= el.size() || el[i] != '=') return std::nullopt;
        ++i;
        while (i < el.size() && is_space(el[i])) ++i;
        if (i >= el.size() || (el[i] != '"' && el[i] != '\'')) return std::nullopt;
        const char q = el[i++];
        const size_t v0 = i;
        while (i < el.size() && el[i] != q) ++i;
        if (i >= el.size()) return std::nullopt;
        if (key == name) return el.substr(v0, i - v0);
        ++i;
    }
    return std::nullopt;
}

std::string excerpt(std::string_view el, size_t max) {
    if (el.size() <= max) return std::string(el);
    return std::string(el.substr(0, max)) + "...";
}

}  // namespace parley::bench
