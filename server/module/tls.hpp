// module::TlsServer and module::TlsStream: TLS for a module that serves a
// protocol of its own on a listener of its own (mod_upload's HTTPS), with
// the server's TLS code and policy (TLS 1.2 and 1.3 only, the server's
// priority string), not a second TLS stack in the module.
//
// Host::tls_server() loads one certificate chain and key (PEM files) into
// a TlsServer; each accepted connection gets a TlsStream from accept().
// A TlsStream never touches a socket: the module feeds it the ciphertext it
// read and writes what take_output() returns, so it works on whatever loop
// or thread the module runs its listener on.
//
// Part of the module interface (doc/modules.md). Thread affinity: a
// TlsServer is immutable and may be shared by threads (any thread); a
// TlsStream belongs to the thread that owns its connection, and keeps its
// TlsServer's credentials alive.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "errors/status.hpp"

namespace parley::module {

// A certificate chain and its private key, as PEM file paths, for the name
// clients connect to (`name` is used in messages only: the certificate is
// shown to every client, with or without SNI).
struct TlsIdentity {
    std::string name;
    std::string certificate;
    std::string key;
};

// One connection's TLS, server side, from the first byte (no STARTTLS).
class TlsStream {
public:
    virtual ~TlsStream() = default;
    // Ciphertext read from the socket: drives the handshake, appends the
    // decrypted application data to `plain`, and queues records to send
    // (has_output). An error on a fatal alert or a failed handshake; the
    // stream is then unusable, though take_output() may hold an alert.
    virtual Status feed(const char* data, size_t len, std::string& plain) = 0;
    virtual bool has_output() const = 0;
    // Ciphertext to write to the socket; the buffer goes with it.
    virtual std::string take_output() = 0;
    virtual bool handshake_done() const = 0;
    // The peer sent close_notify.
    virtual bool peer_closed() const = 0;
    // Encrypts application data (kept until the handshake is done).
    virtual Status write(std::string_view plain) = 0;
    // Sends close_notify (once; only after the handshake).
    virtual void bye() = 0;
};

class TlsServer {
public:
    virtual ~TlsServer() = default;
    // A stream for a newly accepted connection.
    virtual Result<std::unique_ptr<TlsStream>> accept() const = 0;
};

}  // namespace parley::module
