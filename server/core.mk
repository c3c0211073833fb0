# server core: loop, c2s, sessions, router, hooks, module host, control
