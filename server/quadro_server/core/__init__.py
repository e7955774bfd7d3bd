"""Core rules of the board: lifecycles, the event taxonomy, records and the engine.

Nothing here imports gRPC or a database driver; every rule is a plain function or
dataclass that the storage backends and the gRPC layer share.
"""
