"""End-to-end tasks (data + models + training + evaluation) behind the experiment scripts."""
