// xml::Element: an XML element tree, the form in which a stanza travels.
//
// An Element has a local name, a namespace URI, attributes in document order
// and children: elements and text nodes, in order. It is a plain value:
// copyable and movable, owning its whole subtree; copying a stanza (to
// deliver it to several sessions) copies the tree, unless its children were
// shared first (xml::share_children, serializer.hpp): then every copy holds
// the same immutable children and their serialization, and a copy that
// changes its children gets its own again. Namespace prefixes are not
// kept: the serializer writes default-namespace declarations (xmlns='...')
// where an element's namespace differs from its parent's.
//
// Names: an element has a local name and a namespace URI; an attribute has a
// QName, its namespace URI (empty for an ordinary unqualified attribute such
// as "type"; xml::kXmlNs for xml:lang) and its local name, kept apart. There
// is no string convention that folds a URI into a name: a URI may hold any
// character, a name may not. Every local name is checked to be an XML NCName
// when it enters an Element (constructor, add_child, set_attr), which throw
// std::invalid_argument otherwise, so a tree can never carry a name the
// serializer could not write. Names that come from the parser are valid by
// construction (expat checked them). Attribute values and text are stored
// unescaped.
//
// Value type: an instance is used by one thread at a time. The only state
// copies share is shared children, which nothing writes once they are made,
// so copies may be used on different threads.
#pragma once

#include <cstddef>
#include <iterator>
#include <memory>
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

// The namespace that only xmlns declarations live in: never an element's
// or an attribute's namespace.
inline constexpr std::string_view kXmlnsNs = "http://www.w3.org/2000/xmlns/";

// True if `s` is an XML NCName (XML 1.0 fifth edition Name, without ':'),
// in UTF-8.
bool is_ncname(std::string_view s);

// A qualified name: namespace URI and local name, kept apart.
struct QName {
    std::string ns;     // empty: no namespace
    std::string local;  // an NCName
    friend bool operator==(const QName&, const QName&) = default;
};

// xml:lang as a QName.
QName xml_lang();

struct Attribute {
    Attribute(std::string local, std::string v) : name{std::string(), std::move(local)}, value(std::move(v)) {}
    Attribute(QName n, std::string v) : name(std::move(n)), value(std::move(v)) {}
    QName name;
    std::string value;
    friend bool operator==(const Attribute&, const Attribute&) = default;
};

class Element {
public:
    class Node;
    class ElementIterator;
    // The element children of an Element, skipping text nodes.
    class ElementRange;

    // Throws std::invalid_argument if `name` is not an NCName or `ns` is
    // kXmlnsNs, which no element can be in.
    Element(std::string name, std::string ns);
    Element(const Element&);
    Element(Element&&) noexcept;
    Element& operator=(const Element&);
    Element& operator=(Element&&) noexcept;
    ~Element();

    const std::string& name() const { return name_; }
    const std::string& ns() const { return ns_; }

    // Attributes. The forms with only a local name are the unqualified
    // attributes (no namespace), which is what stanzas mostly carry.
    const std::string* attr(std::string_view local) const;  // nullptr if absent
    const std::string* attr(std::string_view ns, std::string_view local) const;
    std::string_view attr_or(std::string_view local) const;  // empty if absent
    std::string_view attr_or(std::string_view ns, std::string_view local) const;
    // Replaces or appends; throws std::invalid_argument for a local name
    // that is not an NCName or a namespace an attribute cannot be in.
    void set_attr(std::string local, std::string value);
    void set_attr(QName name, std::string value);
    bool remove_attr(std::string_view local);                 // true if it was there
    bool remove_attr(std::string_view ns, std::string_view local);
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
    // The same, for writing: shared children (share_children) are copied
    // first when there is such a child, which invalidates pointers and
    // references to children taken before. To read only, call the const
    // overload (std::as_const), which never copies.
    Element* child(std::string_view name, std::string_view ns);
    // Removes every element child with this name and namespace; returns how many.
    size_t remove_children(std::string_view name, std::string_view ns);
    size_t child_count() const;             // element children only
    const Element* first_child() const;     // the first element child, or nullptr
    ElementRange children() const;          // for (const Element& c : e.children())
    // Every child node (elements and text) in document order.
    const std::vector<Node>& nodes() const;

    // The serialization of the children made by xml::share_children for
    // the default namespace `ns`, while they are still shared; else nullptr.
    const std::string* shared_children(std::string_view ns) const;

    friend bool operator==(const Element& a, const Element& b);
    friend void share_children(Element& e, std::string_view default_ns);

private:
    struct Shared;
    // Moves the children into an immutable block with `bytes`, their
    // serialization for the default namespace `ns`.
    void share(std::string bytes, std::string ns);
    // The children for writing: shared ones are copied first.
    std::vector<Node>& own_nodes();

    std::string name_;
    std::string ns_;
    std::vector<Attribute> attrs_;
    std::vector<Node> nodes_;  // empty while shared_ holds the children
    std::shared_ptr<const Shared> shared_;
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
