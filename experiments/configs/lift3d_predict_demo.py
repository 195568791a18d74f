"""The chiral lifter of docs/predict.md's rendering: a small synthetic set (4 subjects, S4 held
out, 2 cameras), width 128, 27 frames, 30 epochs; notebook 02 trains a smaller version of it.

Command:  python experiments/lift3d.py --workdir /tmp/predict_demo \
              --config experiments/configs/lift3d_predict_demo.py
Runtime:  2 min 7 s on the 2-core CPU machine while shared (load average ~14); 87 s of training.
Result:   test MPJPE 40.8 mm (P-MPJPE 31.3 mm).
Then:     python experiments/predict3d.py --checkpoint /tmp/predict_demo --keypoints detections.json \
              --image_size 1000,1000 --out poses.npz --render poses.gif --render_stride 2 --fps 50
"""

import ml_collections

from chiral_jax.tasks.configs import load_sibling_config


def get_config() -> ml_collections.ConfigDict:
    c = load_sibling_config(__file__, "lift3d.py")
    c.num_seeds = 1
    c.data.synthetic = ml_collections.ConfigDict(
        {"seed": 0, "num_subjects": 4, "num_test_subjects": 1, "num_cameras": 2}
    )
    c.model.kind = "chiral"
    c.model.width = 128
    c.model.dropout = 0.1
    # The rendering in docs/predict.md was made with Flax's init; pinned so that it reproduces.
    c.model.init = "lecun"
    c.model.equal_params = False
    c.train.epochs = 30
    c.train.batch_size = 128
    c.train.lr = 3e-3
    c.train.lr_decay_steps = 200
    c.eval.flip_average = False
    return c
