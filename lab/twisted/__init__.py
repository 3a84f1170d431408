"""The in-process backend: Twisted servers in the lab's reactor thread (:mod:`lab.reactor`), and the
southbound gateway (the Message Processor) that answers 503 when its upstream TLS fails."""
