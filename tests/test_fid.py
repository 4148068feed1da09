"""FID: the Fréchet distance against closed forms on Gaussians, and the image path (features -> stats ->
distance) through a tiny random Inception-like network: ~0 for a set against itself, growing with a
known perturbation. The Inception loader: clear errors offline, and a local torchvision file loads."""
import numpy as np
import pytest
import scipy.linalg
import torch

from dream3d.eval.fid import (FIDError, InceptionFeatures, feature_stats, fid, frechet_distance, image_features,
                              load_inception, locate_inception)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small networks: threads only add contention on a shared machine
    yield
    torch.set_num_threads(threads)


def random_spd(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_frechet_distance_closed_forms(torch_seed):
    rng = np.random.default_rng(torch_seed)
    d = 6
    mu_a, mu_b = rng.standard_normal(d), rng.standard_normal(d)
    va, vb = rng.uniform(0.2, 3, d), rng.uniform(0.2, 3, d)
    # diagonal covariances: |mu_a - mu_b|^2 + sum (sqrt(va) - sqrt(vb))^2
    expected = ((mu_a - mu_b) ** 2).sum() + ((np.sqrt(va) - np.sqrt(vb)) ** 2).sum()
    assert frechet_distance(mu_a, np.diag(va), mu_b, np.diag(vb)) == pytest.approx(expected, rel=1e-10)
    # general covariances: the sqrtm formula of pytorch-fid, and symmetry
    sa, sb = random_spd(rng, d), random_spd(rng, d)
    reference = ((mu_a - mu_b) ** 2).sum() + np.trace(sa + sb - 2 * scipy.linalg.sqrtm(sa @ sb).real)
    assert frechet_distance(mu_a, sa, mu_b, sb) == pytest.approx(reference, rel=1e-8)
    assert frechet_distance(mu_b, sb, mu_a, sa) == pytest.approx(reference, rel=1e-8)
    # a scaled copy: S_b = c^2 S_a gives (1 - c)^2 tr(S_a)
    assert frechet_distance(mu_a, sa, mu_a, 4 * sa) == pytest.approx(np.trace(sa), rel=1e-9)
    assert frechet_distance(mu_a, sa, mu_a, sa) == pytest.approx(0, abs=1e-9)
    with pytest.raises(FIDError, match="mismatched"):
        frechet_distance(mu_a, sa, mu_b[:3], sb[:3, :3])


def test_feature_stats_from_samples_approach_the_gaussian(torch_seed):
    rng = np.random.default_rng(torch_seed)
    mu, sigma = rng.standard_normal(3), random_spd(rng, 3)
    x = rng.multivariate_normal(mu, sigma, size=200_000)
    stats = feature_stats(torch.from_numpy(x))
    assert frechet_distance(stats.mu, stats.sigma, mu, sigma) < 0.01
    with pytest.raises(FIDError, match="at least 2"):
        feature_stats(torch.zeros(1, 3))
    with pytest.raises(FIDError, match="NaN"):
        feature_stats(torch.tensor([[0.0, 1.0], [float("nan"), 2.0]]))


class TinyInception(torch.nn.Module):
    """Conv stem, two parallel branches concatenated, global average pool: Inception's shape, tiny."""

    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2), torch.nn.ReLU())
        self.b1 = torch.nn.Conv2d(8, 8, 1)
        self.b3 = torch.nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        h = self.stem(x * 2 - 1)
        return torch.cat([self.b1(h).relu(), self.b3(h).relu()], 1).mean((2, 3))


def test_fid_of_images_is_zero_for_itself_and_grows_with_noise():
    torch.manual_seed(0)  # the net and images are fixed; only their FIDs are compared
    net = TinyInception().eval()
    images = torch.rand(64, 3, 24, 24) * 0.5 + 0.25
    images[:, 0] *= torch.linspace(0.5, 1.5, 64).view(-1, 1, 1).clamp(max=1)
    assert fid(net, images, images, batch_size=16) == pytest.approx(0, abs=1e-8)
    noise = torch.randn(images.shape)
    values = [fid(net, (images + s * noise).clamp(0, 1), images, batch_size=16) for s in (0.05, 0.1, 0.2)]
    assert 0 < values[0] < values[1] < values[2]
    # batching does not change features
    torch.testing.assert_close(image_features(net, images, 7), image_features(net, images, 64))
    with pytest.raises(FIDError, match=r"\[0, 1\]"):
        image_features(net, images * 3)
    with pytest.raises(FIDError, match=r"\(N, 3, H, W\)"):
        image_features(net, images[:, :2])


def test_inception_weights_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("DREAM3D_INCEPTION", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(FIDError, match="not found offline.*--inception FILE.*--download-inception"):
        locate_inception()
    with pytest.raises(FIDError, match="no such weights file"):
        locate_inception(tmp_path / "nope.pth")
    bad = tmp_path / "bad.pth"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(FIDError, match="cannot load Inception-v3 weights"):
        load_inception(bad)


def test_inception_loads_a_local_torchvision_file(tmp_path, monkeypatch):
    torchvision_models = pytest.importorskip("torchvision.models")
    torch.manual_seed(0)
    reference = torchvision_models.inception_v3(weights=None, aux_logits=True, init_weights=False).eval()
    path = tmp_path / "inception.pth"
    torch.save(reference.state_dict(), path)
    monkeypatch.setenv("DREAM3D_INCEPTION", str(path))
    net = load_inception()
    assert isinstance(net, InceptionFeatures)
    for name, tensor in reference.state_dict().items():
        if not name.startswith("fc."):
            torch.testing.assert_close(net.net.state_dict()[name], tensor, rtol=0, atol=0, msg=name)
    images = torch.rand(1, 3, 32, 32)
    features = image_features(net, images)
    assert features.shape == (1, 2048) and (features >= 0).all()  # post-ReLU average pool
