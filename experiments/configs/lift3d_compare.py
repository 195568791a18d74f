"""The full comparison on the built-in synthetic set (README table): every variant, 3 seeds.

Chiral nets at equal width and at equal parameters (width x sqrt2), for both hidden specs
(negation-free + ReLU; negated + tanh, the paper's choice), against the dense baseline trained with
and without mirror augmentation and evaluated with and without test-time flip averaging.

Command:  python experiments/lift3d.py --workdir /tmp/lift3d_compare \
              --config experiments/configs/lift3d_compare.py
Runtime:  17 min 56 s on the 2-core CPU machine (18 runs of 24 epochs; the test suite ran beside it).
Result:   test MPJPE (mm, 3 seeds): chiral ReLU 33.6 +- 0.2 (width 128) / 29.5 +- 1.5 (width 182);
          chiral tanh 38.2 +- 1.6 / 36.0 +- 1.4; baseline with augmentation 35.8 +- 1.9
          (32.8 +- 0.4 with flip averaging), without 34.3 +- 1.2 (51.1 +- 0.5). README table.
"""

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "lift3d.py")
    c.model.hidden_specs = ("plain", "negated")
    c.model.baseline_without_augment = True
    return c
