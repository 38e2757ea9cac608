//! Built-in controllers (namespace, garbage collector, deployment, ...), as API clients. Not built yet: see the open controller-manager issue.
