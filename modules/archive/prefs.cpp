#include "prefs.hpp"

#include <algorithm>

namespace parley::mod_archive {

namespace {

void put16(std::string& out, size_t v) {
    out.push_back(static_cast<char>((v >> 8) & 0xff));
    out.push_back(static_cast<char>(v & 0xff));
}

bool get16(std::string_view& in, size_t& v) {
    if (in.size() < 2) return false;
    v = static_cast<size_t>(static_cast<uint8_t>(in[0]) << 8 | static_cast<uint8_t>(in[1]));
    in.remove_prefix(2);
    return true;
}

bool get_list(std::string_view& in, std::vector<std::string>& out) {
    size_t n = 0;
    if (!get16(in, n) || n > kMaxPrefsJids) return false;
    for (size_t i = 0; i < n; ++i) {
        size_t len = 0;
        if (!get16(in, len) || len > in.size()) return false;
        out.emplace_back(in.substr(0, len));
        in.remove_prefix(len);
    }
    return true;
}

void put_list(std::string& out, const std::vector<std::string>& list) {
    size_t n = std::min(list.size(), kMaxPrefsJids);
    put16(out, n);
    for (size_t i = 0; i < n; ++i) {
        put16(out, std::min<size_t>(list[i].size(), 0xffff));
        out.append(list[i].substr(0, 0xffff));
    }
}

}  // namespace

std::string encode_prefs(const archive::Prefs& p) {
    std::string out(1, static_cast<char>(p.default_mode));
    put_list(out, p.always);
    put_list(out, p.never);
    return out;
}

Result<archive::Prefs> decode_prefs(std::string_view bytes) {
    archive::Prefs p;
    if (bytes.empty() || static_cast<uint8_t>(bytes[0]) > 2) return Status::error("corrupt", "archive preferences");
    p.default_mode = static_cast<archive::Prefs::Default>(bytes[0]);
    bytes.remove_prefix(1);
    if (!get_list(bytes, p.always) || !get_list(bytes, p.never) || !bytes.empty())
        return Status::error("corrupt", "archive preferences");
    return p;
}

Result<std::optional<archive::Prefs>> load_prefs(const store::Txn& txn, MDB_dbi db, std::string_view owner) {
    auto v = txn.get(db, owner);
    if (!v) return v.status();
    if (!*v) return std::optional<archive::Prefs>();
    auto p = decode_prefs(**v);
    if (!p) return p.status();
    return std::optional<archive::Prefs>(*p);
}

Status store_prefs(store::Txn& txn, MDB_dbi db, std::string_view owner, const archive::Prefs& p) {
    return txn.put(db, owner, encode_prefs(p));
}

}  // namespace parley::mod_archive
