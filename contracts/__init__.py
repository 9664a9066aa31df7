"""The shared language of bakeplan: messages, topics and the planning data model.

Imports pydantic and the standard library only.
"""
