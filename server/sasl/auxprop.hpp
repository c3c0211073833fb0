// The pieces of our SASL setup that read accounts: the account store and
// decoy iteration count that PLAIN (through Cyrus) and ScramServer share,
// Cyrus's in-process auxprop plugin "parley" (which serves nothing; see
// auxprop.cpp), the PLAIN password check, and the user-name rules all
// mechanisms apply. Internal to server/sasl. Any thread: the account store pointer is atomic and the
// store itself is thread-safe.
#pragma once

#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include <string>
#include <string_view>

namespace parley::store {
class AccountStore;
}

namespace parley::sasl::detail {

constexpr const char* kAuxpropName = "parley";

void set_accounts(store::AccountStore* accounts);
// The iteration count for unknown users in a domain without accounts
// ([sasl] scram_iterations).
void set_decoy_iterations(uint32_t iterations);
uint32_t decoy_iterations();
store::AccountStore* accounts();

// Registers the plugin with Cyrus (after sasl_server_init).
int add_auxprop_plugin();

// SASL_CB_SERVER_USERDB_CHECKPASS: `user` is Cyrus's canonical "node@realm".
int checkpass(sasl_conn_t* conn, void* context, const char* user, const char* pass, unsigned passlen,
              struct propctx* propctx) noexcept;

// XMPP nodeprep (RFC 6122) of a local part; empty when it is not a valid one.
std::string nodeprep(std::string_view node);

// From Cyrus's canonical "node[@realm]" to our prepared node: false when the
// realm is not `domain` or the node is not valid.
bool local_node(std::string_view canonical, std::string_view domain, std::string& node);

}  // namespace parley::sasl::detail
