"""The full comparison on the built-in synthetic set (README table): every variant, 3 seeds.

Chiral nets at equal width and at equal parameters (width x sqrt2), for both hidden specs
(negation-free + ReLU; negated + tanh, the paper's choice), against the dense baseline trained with
and without mirror augmentation and evaluated with and without test-time flip averaging.

Command:  python experiments/lift3d.py --workdir /tmp/lift3d_compare \
              --config experiments/configs/lift3d_compare.py
Runtime:  ~20 min on the 2-core CPU machine (18 runs of 12 epochs).
Result:   README "Lifting results" (synthetic), copied from WORKDIR/results.md.
"""

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "lift3d.py")
    c.model.hidden_specs = ("plain", "negated")
    c.model.baseline_without_augment = True
    return c
