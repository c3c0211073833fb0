-- mod_parley_test_routes: TEST ONLY. Makes Prosody's outgoing s2s connections
-- to the configured remote domains go to fixed addresses, without DNS (the
-- test machines have no DNS server). Loaded only by the private configs that
-- tests/interop/peers.py writes:
--
--   modules_enabled = { ..., "parley_test_routes" }
--   parley_test_routes = { ["ejabberd.test"] = { "127.0.1.3", 5269 } }
--
-- How: Prosody 0.12.3 (Debian 12) has no hook to choose an s2s connection
-- target ("s2sout-pre-connect" came in 0.12.4). For every new outgoing
-- session, mod_s2s calls service.new(to_host, "xmpp-server", "tcp", extra)
-- on the shared net.resolvers.service module table (and, for direct TLS,
-- service.new(to_host, "xmpps-server", ...)), looking the function up at
-- each call. This module replaces that function: for a routed domain it
-- returns a net.resolvers.manual resolver holding the one fixed target
-- (STARTTLS on the plain port) and an empty one for direct TLS; every other
-- domain goes to the original resolver. Unloading restores the original.

module:set_global();

local service = require "net.resolvers.service";
local manual = require "net.resolvers.manual";

local routes = module:get_option("parley_test_routes", {});
local original_new = service.new;

for domain, target in pairs(routes) do
	assert(type(target) == "table" and type(target[1]) == "string" and type(target[2]) == "number",
		"parley_test_routes: want { address, port } for " .. tostring(domain));
	module:log("info", "s2s to %s goes to %s port %d (no DNS)", domain, target[1], target[2]);
end

function service.new(hostname, service_name, conn_type, extra)
	local target = routes[hostname];
	if target and service_name == "xmpp-server" then
		-- A target is { conn_type .. "4", address, port, extra }, the form
		-- net.resolvers.basic produces and net.connect consumes.
		return manual.new({ { (conn_type or "tcp") .. "4", target[1], target[2], extra } }, conn_type, extra);
	elseif target and service_name == "xmpps-server" then
		return manual.new({}, conn_type, extra);
	end
	return original_new(hostname, service_name, conn_type, extra);
end

function module.unload()
	service.new = original_new;
end
