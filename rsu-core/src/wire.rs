//! Wire types of the sync protocol (DESIGN §6), `v1`, camelCase JSON.
//! Owned by the server work; see docs/protocol.md.
