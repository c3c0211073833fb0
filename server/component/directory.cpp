#include "component/directory.hpp"

namespace parley::component {

bool Directory::claim(const std::string& domain, Where where) {
    std::lock_guard<std::mutex> lock(mutex_);
    return connected_.emplace(domain, where).second;
}

void Directory::release(const std::string& domain, uint64_t connection) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = connected_.find(domain);
    if (it != connected_.end() && it->second.connection == connection) connected_.erase(it);
}

std::optional<Where> Directory::find(std::string_view domain) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = connected_.find(domain);
    if (it == connected_.end()) return std::nullopt;
    return it->second;
}

size_t Directory::size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return connected_.size();
}

}  // namespace parley::component
