"""The Kafka contract as documents: AsyncAPI 3.0 and JSON Schema, from contracts/ and the roles (docs/contract.md)."""
