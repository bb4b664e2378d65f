"""Package-private helpers shared by every layer: input rules (``validate``), R-style number
formatting (``rformat``) and run-time settings (``runtime``: BLAS thread limits, the seeded
parallel runner). Imports nothing from the rest of glmmteach except ``glmmteach.warnings``.
"""
