"""The gRPC servicers, one module per service. Each handler reads as the rule it
implements: validate the request into a command or query, hand it to the store, convert
the answer. Errors are raised as QuadroError and turned into statuses by an interceptor."""
