// The module::TlsServer that Host::tls_server() gives a module: net's
// TlsContext and TlsSession (the plain server handshake, from the first byte) behind
// the module interface's TlsServer and TlsStream (module/tls.hpp).
// Free function; what it makes follows module/tls.hpp's thread rules.
#pragma once

#include <memory>

#include "module/tls.hpp"

namespace parley::loop {

// Loads the identity's files; the error names them when they do not load.
Result<std::shared_ptr<const module::TlsServer>> make_tls_server(const module::TlsIdentity& identity);

}  // namespace parley::loop
