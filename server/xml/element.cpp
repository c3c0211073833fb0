#include "xml/element.hpp"

#include <algorithm>

namespace parley::xml {

Element::Element(std::string name, std::string ns) : name_(std::move(name)), ns_(std::move(ns)) {}
Element::Element(const Element&) = default;
Element::Element(Element&&) noexcept = default;
Element& Element::operator=(const Element&) = default;
Element& Element::operator=(Element&&) noexcept = default;
Element::~Element() = default;

const std::string* Element::attr(std::string_view name) const {
    for (const auto& a : attrs_)
        if (a.name == name) return &a.value;
    return nullptr;
}

std::string_view Element::attr_or(std::string_view name) const {
    const std::string* v = attr(name);
    return v ? std::string_view(*v) : std::string_view();
}

void Element::set_attr(std::string name, std::string value) {
    for (auto& a : attrs_) {
        if (a.name == name) {
            a.value = std::move(value);
            return;
        }
    }
    attrs_.push_back(Attribute{std::move(name), std::move(value)});
}

bool Element::remove_attr(std::string_view name) {
    auto it = std::find_if(attrs_.begin(), attrs_.end(), [&](const Attribute& a) { return a.name == name; });
    if (it == attrs_.end()) return false;
    attrs_.erase(it);
    return true;
}

Element& Element::add_child(std::string name, std::string ns) {
    nodes_.emplace_back(Element(std::move(name), std::move(ns)));
    return nodes_.back().element();
}

Element& Element::add_child(Element child) {
    nodes_.emplace_back(std::move(child));
    return nodes_.back().element();
}

void Element::add_text(std::string text) {
    if (text.empty()) return;
    if (!nodes_.empty() && nodes_.back().is_text()) {
        nodes_.back().text().append(text);
        return;
    }
    nodes_.emplace_back(std::move(text));
}

std::string Element::text() const {
    std::string out;
    for (const auto& n : nodes_)
        if (n.is_text()) out.append(n.text());
    return out;
}

const Element* Element::child(std::string_view name, std::string_view ns) const {
    for (const auto& n : nodes_)
        if (n.is_element() && n.element().name_ == name && n.element().ns_ == ns) return &n.element();
    return nullptr;
}

Element* Element::child(std::string_view name, std::string_view ns) {
    return const_cast<Element*>(static_cast<const Element*>(this)->child(name, ns));
}

size_t Element::remove_children(std::string_view name, std::string_view ns) {
    const size_t before = nodes_.size();
    nodes_.erase(std::remove_if(nodes_.begin(), nodes_.end(),
                                [&](const Node& n) {
                                    return n.is_element() && n.element().name_ == name && n.element().ns_ == ns;
                                }),
                 nodes_.end());
    return before - nodes_.size();
}

size_t Element::child_count() const {
    return static_cast<size_t>(std::count_if(nodes_.begin(), nodes_.end(), [](const Node& n) { return n.is_element(); }));
}

const Element* Element::first_child() const {
    for (const auto& n : nodes_)
        if (n.is_element()) return &n.element();
    return nullptr;
}

Element::ElementRange Element::children() const {
    return ElementRange(nodes_.data(), nodes_.data() + nodes_.size());
}

bool operator==(const Element& a, const Element& b) {
    return a.name_ == b.name_ && a.ns_ == b.ns_ && a.attrs_ == b.attrs_ && a.nodes_ == b.nodes_;
}

}  // namespace parley::xml
