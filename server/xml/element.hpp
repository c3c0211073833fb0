// xml::Element: an XML element tree, the form in which a stanza travels.
//
// An Element has a local name, a namespace URI, attributes in document order
// and children: elements and text nodes, in order. It is a plain value:
// copyable and movable, owning its whole subtree; copying a stanza (to
// deliver it to several sessions) copies the tree. Namespace prefixes are not
// kept: the serializer writes default-namespace declarations (xmlns='...')
// where an element's namespace differs from its parent's.
//
// Attribute names: an unqualified attribute is its local name ("type"); the
// XML namespace is written "xml:lang"; an attribute in any other namespace is
// "{URI}local" (Clark notation), which the serializer re-declares with a
// generated prefix. Attribute values and text are stored unescaped.
//
// Value type: no shared state; an instance is used by one thread at a time.
#pragma once

#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace parley::xml {

// The namespace of the stream root and of <stream:features/>, <stream:error/>.
// The serializer writes elements in it with the `stream:` prefix, which the
// stream header declares.
inline constexpr std::string_view kStreamNs = "http://etherx.jabber.org/streams";
// The namespace bound to the `xml` prefix (xml:lang).
inline constexpr std::string_view kXmlNs = "http://www.w3.org/XML/1998/namespace";

struct Attribute {
    std::string name;
    std::string value;
    friend bool operator==(const Attribute&, const Attribute&) = default;
};

class Element {
public:
    class Node;
    class ElementIterator;
    // The element children of an Element, skipping text nodes.
    class ElementRange;

    Element(std::string name, std::string ns);
    Element(const Element&);
    Element(Element&&) noexcept;
    Element& operator=(const Element&);
    Element& operator=(Element&&) noexcept;
    ~Element();

    const std::string& name() const { return name_; }
    const std::string& ns() const { return ns_; }

    // Attributes.
    const std::string* attr(std::string_view name) const;  // nullptr if absent
    std::string_view attr_or(std::string_view name) const;  // empty if absent
    void set_attr(std::string name, std::string value);     // replaces or appends
    bool remove_attr(std::string_view name);                // true if it was there
    const std::vector<Attribute>& attrs() const { return attrs_; }

    // Children. The returned reference is valid until this element's
    // children change again.
    Element& add_child(std::string name, std::string ns);
    Element& add_child(Element child);
    // Appends text; merged into the last node when that is text already.
    void add_text(std::string text);
    // The concatenation of the direct text children.
    std::string text() const;

    // The first element child with this name and namespace, or nullptr.
    const Element* child(std::string_view name, std::string_view ns) const;
    Element* child(std::string_view name, std::string_view ns);
    // Removes every element child with this name and namespace; returns how many.
    size_t remove_children(std::string_view name, std::string_view ns);
    size_t child_count() const;             // element children only
    const Element* first_child() const;     // the first element child, or nullptr
    ElementRange children() const;          // for (const Element& c : e.children())
    // Every child node (elements and text) in document order.
    const std::vector<Node>& nodes() const { return nodes_; }

    friend bool operator==(const Element& a, const Element& b);

private:
    std::string name_;
    std::string ns_;
    std::vector<Attribute> attrs_;
    std::vector<Node> nodes_;
};

// One child node: an element or a run of text.
class Element::Node {
public:
    explicit Node(Element e) : v_(std::move(e)) {}
    explicit Node(std::string text) : v_(std::move(text)) {}
    bool is_element() const { return v_.index() == 0; }
    bool is_text() const { return v_.index() == 1; }
    const Element& element() const { return std::get<0>(v_); }
    Element& element() { return std::get<0>(v_); }
    const std::string& text() const { return std::get<1>(v_); }
    std::string& text() { return std::get<1>(v_); }
    friend bool operator==(const Node&, const Node&) = default;

private:
    std::variant<Element, std::string> v_;
};

class Element::ElementIterator {
public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Element;
    using difference_type = std::ptrdiff_t;
    using pointer = const Element*;
    using reference = const Element&;

    ElementIterator() = default;
    ElementIterator(const Node* at, const Node* end) : at_(at), end_(end) { skip(); }
    reference operator*() const { return at_->element(); }
    pointer operator->() const { return &at_->element(); }
    ElementIterator& operator++() {
        ++at_;
        skip();
        return *this;
    }
    ElementIterator operator++(int) {
        ElementIterator old = *this;
        ++*this;
        return old;
    }
    friend bool operator==(const ElementIterator& a, const ElementIterator& b) { return a.at_ == b.at_; }

private:
    void skip() {
        while (at_ != end_ && !at_->is_element()) ++at_;
    }
    const Node* at_ = nullptr;
    const Node* end_ = nullptr;
};

class Element::ElementRange {
public:
    ElementRange(const Node* begin, const Node* end) : begin_(begin), end_(end) {}
    ElementIterator begin() const { return {begin_, end_}; }
    ElementIterator end() const { return {end_, end_}; }

private:
    const Node* begin_;
    const Node* end_;
};

}  // namespace parley::xml
