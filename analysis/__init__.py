"""Tables and figures of the paper from run result files (reads results only; never imports runners)."""
