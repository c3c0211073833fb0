#include "xml/element.hpp"

#include <algorithm>
#include <cstdint>
#include <stdexcept>

namespace parley::xml {

namespace {

// Decodes one UTF-8 sequence at s[i]; advances i. Returns UINT32_MAX for a
// malformed, overlong or surrogate sequence.
uint32_t next_code_point(std::string_view s, size_t& i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (b0 < 0x80) {
        ++i;
        return b0;
    } else if ((b0 & 0xE0) == 0xC0) {
        n = 1;
        cp = b0 & 0x1F;
    } else if ((b0 & 0xF0) == 0xE0) {
        n = 2;
        cp = b0 & 0x0F;
    } else if ((b0 & 0xF8) == 0xF0) {
        n = 3;
        cp = b0 & 0x07;
    } else {
        return UINT32_MAX;
    }
    if (s.size() - i <= n) return UINT32_MAX;
    for (size_t k = 1; k <= n; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80) return UINT32_MAX;
        cp = (cp << 6) | (b & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return UINT32_MAX;
    i += n + 1;
    return cp;
}

// XML 1.0 fifth edition, production [4] NameStartChar, without ':'.
bool name_start(uint32_t c) {
    return (c >= 'A' && c <= 'Z') || c == '_' || (c >= 'a' && c <= 'z') || (c >= 0xC0 && c <= 0xD6) ||
           (c >= 0xD8 && c <= 0xF6) || (c >= 0xF8 && c <= 0x2FF) || (c >= 0x370 && c <= 0x37D) ||
           (c >= 0x37F && c <= 0x1FFF) || (c >= 0x200C && c <= 0x200D) || (c >= 0x2070 && c <= 0x218F) ||
           (c >= 0x2C00 && c <= 0x2FEF) || (c >= 0x3001 && c <= 0xD7FF) || (c >= 0xF900 && c <= 0xFDCF) ||
           (c >= 0xFDF0 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0xEFFFF);
}

// Production [4a] NameChar, without ':'.
bool name_char(uint32_t c) {
    return name_start(c) || c == '-' || c == '.' || (c >= '0' && c <= '9') || c == 0xB7 ||
           (c >= 0x300 && c <= 0x36F) || (c >= 0x203F && c <= 0x2040);
}

void check_element_name(std::string_view name, std::string_view ns) {
    if (!is_ncname(name)) throw std::invalid_argument("xml: not an element name: '" + std::string(name) + "'");
    // An element may be in the XML namespace (<xml:x/>, written with the
    // predeclared prefix), never in the one of namespace declarations.
    if (ns == kXmlnsNs) throw std::invalid_argument("xml: no element may be in the namespace " + std::string(ns));
}

void check_attr_name(const QName& q) {
    if (!is_ncname(q.local)) throw std::invalid_argument("xml: not an attribute name: '" + q.local + "'");
    // An unqualified "xmlns" would be written as a default namespace declaration.
    if (q.ns == kXmlnsNs || (q.ns.empty() && q.local == "xmlns"))
        throw std::invalid_argument("xml: namespace declarations are not attributes");
}

}  // namespace

bool is_ncname(std::string_view s) {
    if (s.empty()) return false;
    size_t i = 0;
    // ASCII names (nearly all) need no decoding.
    const auto first = static_cast<unsigned char>(s[0]);
    if (first < 0x80) {
        if (!name_start(first)) return false;
        ++i;
    } else if (!name_start(next_code_point(s, i))) {
        return false;
    }
    while (i < s.size()) {
        const auto b = static_cast<unsigned char>(s[i]);
        if (b < 0x80) {
            if (!name_char(b)) return false;
            ++i;
        } else if (!name_char(next_code_point(s, i))) {
            return false;
        }
    }
    return true;
}

QName xml_lang() { return QName{std::string(kXmlNs), "lang"}; }

struct Element::Shared {
    std::vector<Node> nodes;
    std::string ns;     // the default namespace `bytes` were written for
    std::string bytes;  // the children serialized
};

Element::Element(std::string name, std::string ns) : name_(std::move(name)), ns_(std::move(ns)) {
    check_element_name(name_, ns_);
}
Element::Element(const Element&) = default;
Element::Element(Element&&) noexcept = default;
Element& Element::operator=(const Element&) = default;
Element& Element::operator=(Element&&) noexcept = default;
Element::~Element() = default;

const std::string* Element::attr(std::string_view local) const { return attr(std::string_view(), local); }

const std::string* Element::attr(std::string_view ns, std::string_view local) const {
    for (const auto& a : attrs_)
        if (a.name.local == local && a.name.ns == ns) return &a.value;
    return nullptr;
}

std::string_view Element::attr_or(std::string_view local) const { return attr_or(std::string_view(), local); }

std::string_view Element::attr_or(std::string_view ns, std::string_view local) const {
    const std::string* v = attr(ns, local);
    return v ? std::string_view(*v) : std::string_view();
}

void Element::set_attr(std::string local, std::string value) {
    set_attr(QName{std::string(), std::move(local)}, std::move(value));
}

void Element::set_attr(QName name, std::string value) {
    for (auto& a : attrs_) {
        if (a.name == name) {
            a.value = std::move(value);
            return;
        }
    }
    check_attr_name(name);
    attrs_.emplace_back(std::move(name), std::move(value));
}

bool Element::remove_attr(std::string_view local) { return remove_attr(std::string_view(), local); }

bool Element::remove_attr(std::string_view ns, std::string_view local) {
    auto it = std::find_if(attrs_.begin(), attrs_.end(),
                           [&](const Attribute& a) { return a.name.local == local && a.name.ns == ns; });
    if (it == attrs_.end()) return false;
    attrs_.erase(it);
    return true;
}

const std::vector<Element::Node>& Element::nodes() const { return shared_ ? shared_->nodes : nodes_; }

std::vector<Element::Node>& Element::own_nodes() {
    if (shared_) {
        nodes_ = shared_->nodes;
        shared_.reset();
    }
    return nodes_;
}

void Element::share(std::string bytes, std::string ns) {
    auto block = std::make_shared<Shared>();
    block->nodes = std::move(own_nodes());
    block->ns = std::move(ns);
    block->bytes = std::move(bytes);
    nodes_.clear();
    shared_ = std::move(block);
}

const std::string* Element::shared_children(std::string_view ns) const {
    return shared_ && shared_->ns == ns ? &shared_->bytes : nullptr;
}

Element& Element::add_child(std::string name, std::string ns) {
    auto& nodes = own_nodes();
    nodes.emplace_back(Element(std::move(name), std::move(ns)));
    return nodes.back().element();
}

Element& Element::add_child(Element child) {
    auto& nodes = own_nodes();
    nodes.emplace_back(std::move(child));
    return nodes.back().element();
}

void Element::add_text(std::string text) {
    if (text.empty()) return;
    auto& nodes = own_nodes();
    if (!nodes.empty() && nodes.back().is_text()) {
        nodes.back().text().append(text);
        return;
    }
    nodes.emplace_back(std::move(text));
}

std::string Element::text() const {
    std::string out;
    for (const auto& n : nodes())
        if (n.is_text()) out.append(n.text());
    return out;
}

const Element* Element::child(std::string_view name, std::string_view ns) const {
    for (const auto& n : nodes())
        if (n.is_element() && n.element().name_ == name && n.element().ns_ == ns) return &n.element();
    return nullptr;
}

Element* Element::child(std::string_view name, std::string_view ns) {
    // A child returned for writing is this element's own.
    if (shared_ && !static_cast<const Element*>(this)->child(name, ns)) return nullptr;
    for (auto& n : own_nodes())
        if (n.is_element() && n.element().name_ == name && n.element().ns_ == ns) return &n.element();
    return nullptr;
}

size_t Element::remove_children(std::string_view name, std::string_view ns) {
    auto match = [&](const Node& n) { return n.is_element() && n.element().name_ == name && n.element().ns_ == ns; };
    if (shared_ && std::none_of(shared_->nodes.begin(), shared_->nodes.end(), match)) return 0;
    auto& nodes = own_nodes();
    const size_t before = nodes.size();
    nodes.erase(std::remove_if(nodes.begin(), nodes.end(), match), nodes.end());
    return before - nodes.size();
}

size_t Element::child_count() const {
    const auto& nodes = this->nodes();
    return static_cast<size_t>(std::count_if(nodes.begin(), nodes.end(), [](const Node& n) { return n.is_element(); }));
}

const Element* Element::first_child() const {
    for (const auto& n : nodes())
        if (n.is_element()) return &n.element();
    return nullptr;
}

Element::ElementRange Element::children() const {
    const auto& nodes = this->nodes();
    return ElementRange(nodes.data(), nodes.data() + nodes.size());
}

bool operator==(const Element& a, const Element& b) {
    return a.name_ == b.name_ && a.ns_ == b.ns_ && a.attrs_ == b.attrs_ && a.nodes() == b.nodes();
}

}  // namespace parley::xml
