"""The one data path: registry -> TFDS build (array_record) -> PoseSequence -> grain batches."""

import os

import numpy as np
import pytest

from chiral_jax import skeletons
from chiral_jax.data import MirrorAugment, PoseWindows, builders, load_synthetic, registry, synthetic
from chiral_jax.data.fixtures import write_h36m
from chiral_jax.data.pipeline import epoch_order, index_batches, window_batches
from chiral_jax.data.sequence import PoseSequence

TINY = {
    "seed": 2,
    "num_subjects": 3,
    "num_test_subjects": 1,
    "num_cameras": 2,
    "min_frames": 40,
    "max_frames": 60,
}


@pytest.fixture(scope="module")
def windows() -> PoseWindows:
    seqs = load_synthetic("train", **TINY)
    return PoseWindows.from_sequences(seqs, receptive_field=9, flatten=True, with_intrinsics=False)


def test_registry_names_every_builder_once():
    assert set(registry.DATASETS) == set(builders.BUILDERS)
    for name, entry in registry.DATASETS.items():
        assert builders.BUILDERS[name].NUM_JOINTS == entry.skeleton.num_joints
        generated = ("synthetic", "synthetic_actions", "synthetic_ik")
        assert entry.needs_manual_dir == (name not in generated)
        if entry.needs_manual_dir:
            assert entry.instructions and entry.manual_files
    with pytest.raises(ValueError, match="unknown dataset 'mpii'; known: synthetic"):
        registry.dataset("mpii")


def test_grain_batches_equal_the_host_path_without_augmentation(windows):
    old = list(windows.batches(32, seed=5, epoch=3, drop_remainder=True))
    new = list(window_batches(windows, 32, seed=5, epoch=3))
    assert len(old) == len(new) == len(windows) // 32
    for a, b in zip(old, new, strict=True):
        assert set(b) == {"inputs", "targets"}
        np.testing.assert_array_equal(a["inputs"], b["inputs"])
        np.testing.assert_array_equal(a["targets"], b["targets"])


def test_augmented_batches_are_a_function_of_seed_and_epoch(windows):
    aug = MirrorAugment(0.5, skeleton_in=skeletons.H36M, skeleton_out=skeletons.H36M)

    def epoch(e: int, seed: int = 0) -> list[dict]:
        return list(
            window_batches(windows, 16, seed=seed, epoch=e, augment=aug, fields=("inputs", "mirrored"))
        )

    first, again = epoch(1), epoch(1)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a["inputs"], b["inputs"])
    flips = np.concatenate([b["mirrored"] for b in first])
    assert 0.3 < flips.mean() < 0.7  # about half the windows mirrored
    assert not np.array_equal(flips, np.concatenate([b["mirrored"] for b in epoch(2)]))
    assert not np.array_equal(first[0]["inputs"], epoch(1, seed=1)[0]["inputs"])
    # Mirrored rows are exactly the mirror of the plain gather of the same windows.
    plain = list(window_batches(windows, 16, seed=0, epoch=1))
    spec = skeletons.H36M.spec(2)
    row = int(np.flatnonzero(first[0]["mirrored"])[0])
    np.testing.assert_allclose(first[0]["inputs"][row], spec.transform(plain[0]["inputs"][row]))


def test_augmented_batches_equal_the_host_path_and_split_over_processes(windows):
    aug = MirrorAugment(0.5, skeleton_in=skeletons.H36M, skeleton_out=skeletons.H36M)
    old = list(windows.batches(24, seed=4, epoch=1, drop_remainder=True, augment=aug))
    new = list(
        window_batches(windows, 24, seed=4, epoch=1, augment=aug, fields=("inputs", "targets", "mirrored"))
    )
    for a, b in zip(old, new, strict=True):
        for key in ("inputs", "targets", "mirrored"):
            np.testing.assert_array_equal(a[key], b[key])
    parts = [
        list(window_batches(windows, 24, seed=4, epoch=1, augment=aug, process_index=p, process_count=2))
        for p in range(2)
    ]
    for b, batch in enumerate(old):
        np.testing.assert_array_equal(
            np.concatenate([parts[p][b]["targets"] for p in range(2)]), batch["targets"]
        )


def test_processes_split_every_global_batch(windows):
    whole = list(window_batches(windows, 24, seed=1, epoch=0))
    parts = [
        list(window_batches(windows, 24, seed=1, epoch=0, process_index=p, process_count=3)) for p in range(3)
    ]
    for b, batch in enumerate(whole):
        joined = np.concatenate([parts[p][b]["inputs"] for p in range(3)])
        np.testing.assert_array_equal(joined, batch["inputs"])
    with pytest.raises(ValueError, match="does not split over 5 processes"):
        window_batches(windows, 24, seed=0, epoch=0, process_count=5)
    with pytest.raises(ValueError, match="fewer than one batch"):
        window_batches(windows, len(windows) + 1, seed=0, epoch=0)


def test_index_batches_keeps_the_remainder_when_asked():
    def gather(ids: np.ndarray) -> dict:
        return {"ids": ids}

    got = np.concatenate(
        [b["ids"] for b in index_batches(gather, 10, 4, seed=0, epoch=0, drop_remainder=False)]
    )
    np.testing.assert_array_equal(got, epoch_order(10, 0, 0))
    np.testing.assert_array_equal(np.sort(got), np.arange(10))


def test_load_splits_reads_back_the_reader_output_in_order(tmp_path, monkeypatch):
    splits = builders.load_splits("synthetic", data_dir=tmp_path, synthetic=TINY)
    ref = synthetic.generate(synthetic.SyntheticConfig(**TINY))
    for split in ("train", "test"):
        assert [s.key for s in splits[split]] == [s.key for s in ref[split]]
        for a, b in zip(splits[split], ref[split], strict=True):
            for field in ("pose_2d", "pose_2d_px", "pose_3d", "trajectory"):
                np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
            np.testing.assert_allclose(a.intrinsics, b.intrinsics, rtol=1e-6, atol=1e-7)
            assert a.fps == b.fps and (a.camera.res_w, a.camera.res_h) == (b.camera.res_w, b.camera.res_h)

    # A second call reads the build: nothing is generated again.
    def fail(*args, **kwargs):
        raise AssertionError("rebuilt a complete build")

    monkeypatch.setattr(builders.Synthetic, "download_and_prepare", fail)
    again = builders.load_splits("synthetic", data_dir=tmp_path, synthetic=TINY)
    assert [s.key for s in again["test"]] == [s.key for s in ref["test"]]
    # Options equal to the generator's defaults name the registered default build.
    assert (
        builders.make_builder("synthetic", data_dir=tmp_path, synthetic={"seed": 0}).builder_config.name
        == "default"
    )
    # Other options are another build.
    with pytest.raises(AssertionError, match="rebuilt"):
        builders.load_splits("synthetic", data_dir=tmp_path, synthetic={**TINY, "seed": 3})


def test_manual_datasets_rebuild_when_their_files_change(tmp_path):
    manual, data = tmp_path / "manual", tmp_path / "data"
    with pytest.raises(ValueError, match=r"set --config\.data\.manual_dir to the folder with data_3d_h36m"):
        builders.load_splits("h36m", data_dir=data, manual_dir_key="--config.data.manual_dir")
    write_h36m(manual)
    first = builders.load_splits("h36m", manual_dir=manual, data_dir=data)
    assert len(first["test"]) == 4 and first["train"][0].pose_2d.shape[1:] == (17, 2)
    # The build is used without the manual folder once it exists.
    assert len(builders.load_splits("h36m", data_dir=data)["train"]) == len(first["train"])
    # Changed source files: the stale build is replaced, with a warning.
    path = manual / "data_2d_h36m_gt.npz"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    with pytest.warns(UserWarning, match="differ, so it is rebuilt"):
        second = builders.load_splits("h36m", manual_dir=manual, data_dir=data)
    np.testing.assert_array_equal(second["test"][0].pose_3d, first["test"][0].pose_3d)


def test_pose_sequence_round_trips_through_an_example():
    seq = load_synthetic("test", **TINY)[0]
    back = PoseSequence.from_example(seq.to_example())
    assert back.key == seq.key
    np.testing.assert_allclose(back.camera.focal, seq.camera.focal, rtol=1e-5)
    np.testing.assert_allclose(back.camera.center, seq.camera.center, rtol=1e-5)
    np.testing.assert_array_equal(back.pose_3d, seq.pose_3d)
