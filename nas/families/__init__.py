"""Scheme families: one module per family, one explicit table (:mod:`nas.families.registry`).

``base`` defines the interface every family implements (:class:`nas.families.base.SchemeFamily`),
``capabilities`` the optional abilities a family declares by inheriting them (memory-efficient inversion,
conversion, learned coefficients); the family modules hold their scheme value type, named schemes, stepping, network stage, diagnostics entry,
search block and result columns. ``docs/families.md`` explains how to add one.
"""
