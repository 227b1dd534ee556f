"""The background engine: small modules that each claim and act on their own due work.

All later work is a row with a due time in the database; the engine is only the
loop that asks each module to act on what is due. See DESIGN.md, "The engine".
"""
