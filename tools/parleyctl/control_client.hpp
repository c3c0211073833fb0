// ControlClient: parleyctl's side of parleyd's control socket.
//
// One request line out, one JSON line back (see server/control/). A missing
// socket or a refused connection means parleyd is not running, which is an
// ordinary answer (Status code "not-running"), not a failure. Blocking I/O
// with a timeout; parleyctl is a short-lived command. Any thread.
#pragma once

#include <string>

#include "errors/status.hpp"

namespace parley::ctl {

Result<std::string> control_request(const std::string& socket_path, const std::string& line, int timeout_ms = 5000);

// One argument of a module's control request, percent-encoded so that it
// may hold a space (server/control/control_server.hpp).
std::string control_arg(const std::string& a);

// Who runs parleyctl, for the archive's audit log: "parleyctl:LOGIN" of the
// real user id (the control socket is open to root and parleyd's group only).
std::string who_runs();

}  // namespace parley::ctl
