"""``import chiral_jax`` stays framework-free: the core (spec, tying, functional, basis) loads no Flax,
grain, TFDS or matplotlib; the subpackages that need them load on first use."""

import subprocess
import sys

HEAVY = ("flax", "grain", "tensorflow_datasets", "matplotlib")


def test_import_chiral_jax_loads_no_framework():
    code = (
        "import sys, chiral_jax\n"
        "from chiral_jax import functional\n"
        "functional.lstm_sequence, functional.dropout_mask_bits\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import chiral_jax loaded {out.stdout.strip()}"
