import gzip

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from conftest import NAMES, fake_arrays, idx_bytes, requires_real_data, write_fashion
from scalediag.run import data
from scalediag.run.data import DataError, load, prepare, raw_dir


def data_cfg(root, **kw):
    base = {"root": str(root), "debian_dir": "/nonexistent", "download": False, "verify": False,
            "train_limit": None, "test_limit": None}
    return OmegaConf.create({**base, **kw})


def test_loads_idx_files_through_torchvision_as_uint8(fake_root):
    d = load(data_cfg(fake_root), torch.device("cpu"))
    images, labels = fake_arrays(512, 0)
    assert d.train.x.dtype == torch.uint8 and d.train.x.shape == (512, 28, 28)
    assert np.array_equal(d.train.x.numpy(), images) and np.array_equal(d.train.y.numpy(), labels)
    assert d.test.x.shape == (128, 28, 28) and d.train.y.dtype == torch.int64


def test_limits_take_the_first_samples(fake_root):
    d = load(data_cfg(fake_root, train_limit=100, test_limit=7), torch.device("cpu"))
    assert len(d.train.y) == 100 and len(d.test.y) == 7
    assert np.array_equal(d.train.y.numpy(), fake_arrays(512, 0)[1][:100])


def test_missing_data_names_the_three_ways(tmp_path):
    with pytest.raises(DataError) as e:
        prepare(data_cfg(tmp_path / "empty"))
    msg = str(e.value)
    assert "Fashion-MNIST not found" in msg
    assert str(raw_dir(tmp_path / "empty")) in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "data.download=true" in msg


def test_debian_files_are_imported_into_root(tmp_path):
    debian = write_fashion(tmp_path / "debian", gz=True)
    root = tmp_path / "root"
    prepare(data_cfg(root, debian_dir=str(debian)))
    for name in NAMES:
        assert (raw_dir(root) / name).read_bytes() == gzip.decompress((debian / f"{name}.gz").read_bytes())


def test_verify_rejects_wrong_counts(fake_root):
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: 512 samples, Fashion-MNIST has 60000"):
        prepare(data_cfg(fake_root, verify=True))


def test_verify_rejects_content_that_is_not_fashion_mnist(fake_root, monkeypatch):
    monkeypatch.setattr(data, "COUNTS", {"train": 512, "t10k": 128})
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: content differs .*SHA-256"):
        prepare(data_cfg(fake_root, verify=True))


def _damage(root, name, content: bytes):
    (raw_dir(root) / name).write_bytes(content)


def test_wrong_magic(fake_root):
    good = (raw_dir(fake_root) / NAMES[1]).read_bytes()
    _damage(fake_root, NAMES[1], b"\x00\x00\x08\x03" + good[4:])
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte: wrong magic number 0x803, expected 0x801"):
        prepare(data_cfg(fake_root))


def test_truncated_file(fake_root):
    good = (raw_dir(fake_root) / NAMES[2]).read_bytes()
    _damage(fake_root, NAMES[2], good[:-100])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte: .* bytes, but its header announces 128 samples"):
        prepare(data_cfg(fake_root))
    _damage(fake_root, NAMES[2], good[:6])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte: truncated"):
        prepare(data_cfg(fake_root))


def test_images_and_labels_disagree(fake_root):
    _damage(fake_root, NAMES[1], idx_bytes(np.zeros(500, np.uint8)))
    with pytest.raises(DataError, match=r"512 images but train-labels-idx1-ubyte has 500 labels"):
        prepare(data_cfg(fake_root))


def test_labels_outside_0_to_9(fake_root):
    _damage(fake_root, NAMES[3], idx_bytes(np.full(128, 12, np.uint8)))
    with pytest.raises(DataError, match=r"labels outside 0-9 in the test set"):
        load(data_cfg(fake_root), torch.device("cpu"))


def test_corrupt_debian_archive(tmp_path):
    debian = write_fashion(tmp_path / "debian", gz=True)
    (debian / f"{NAMES[0]}.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: cannot be decompressed"):
        prepare(data_cfg(tmp_path / "root", debian_dir=str(debian)))


@requires_real_data
def test_real_fashion_mnist_verifies(tmp_path):
    cfg = data_cfg(tmp_path, debian_dir="/usr/share/datasets/fashion-mnist", verify=True)
    d = load(cfg, torch.device("cpu"))
    assert d.train.x.shape == (60000, 28, 28) and d.test.x.shape == (10000, 28, 28)
    assert torch.bincount(d.train.y).tolist() == [6000] * 10 and torch.bincount(d.test.y).tolist() == [1000] * 10
