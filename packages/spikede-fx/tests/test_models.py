"""Graph surgery of ODEFuncFromFX against hand-written per-step references.

For every architecture, the ODE graph is evaluated at random membrane states and sample
times; its derivatives must equal those of calling the model's modules by hand, and the
post-neuron module applied to the boundaries stacked over time must equal the model's
output computed step by step by hand.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils import _pytree as pytree

from spikede_fx import BaseNeuron, ODEFuncFromFX

# The post modules of all these models must be vectorised over time, not looped.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

DT = torch.float64
TOL = {"rtol": 1e-10, "atol": 1e-12}


class Lif(BaseNeuron):
    """Small LIF-like neuron: leak towards the current, fire from the charged membrane."""

    def __init__(self, tau: float = 2.0, threshold: float = 0.3) -> None:
        super().__init__()
        self.tau = tau
        self.threshold = threshold

    def step(self, v, current, dt):
        u = v + dt * (current - v) / self.tau
        spike = (u >= self.threshold).to(current.dtype)
        return (current - v) / self.tau - self.threshold * spike / dt, spike


def run_and_compare(model, reference, x_shape, extras=(), extra_kwargs=None, steps=4):
    """Compare ODEFuncFromFX(model) with ``reference(model, x_t, vs, *extras)``.

    ``reference`` returns ``(list of (dv, spike) per neuron call, output)``.
    Returns the ODE function for further checks.
    """
    extra_kwargs = extra_kwargs or {}
    torch.manual_seed(0)
    func = ODEFuncFromFX(model)
    x = torch.randn(steps, *x_shape, dtype=DT)
    x_time = torch.arange(steps, dtype=DT)
    func.set_inputs(x, x_time, *extras, **extra_kwargs)
    shapes = func.infer_state_shapes(x[0], *extras, **extra_kwargs)
    all_kwargs_extras = list(extras) + [extra_kwargs[k] for k in extra_kwargs]
    boundaries, outputs, fired = [], [], []
    for i in range(steps):
        vs = [torch.randn(s, dtype=DT) for s in shapes]
        result = func(x_time[i], vs)
        assert len(result) == func.neuron_count + func.boundary_count
        per_neuron, out = reference(model, x[i], vs, *all_kwargs_extras)
        assert len(per_neuron) == func.neuron_count
        for (dv_ref, spike_ref), dv, shape in zip(
            per_neuron, result[: func.neuron_count], shapes, strict=True
        ):
            assert dv_ref.shape == shape
            torch.testing.assert_close(dv, dv_ref, **TOL)
            fired.append(spike_ref.mean().item())
        boundaries.append(result[func.neuron_count :])
        outputs.append(out)
    # Spikes must actually vary, or the comparison of outputs would be vacuous.
    assert 0.0 < sum(fired) / len(fired) < 1.0
    stacked = [torch.stack(column) for column in zip(*boundaries, strict=True)]
    got = func.post(stacked)
    flat_out, spec = pytree.tree_flatten(outputs[0])
    expected = pytree.tree_unflatten(
        [
            torch.stack([pytree.tree_flatten(o)[0][j] for o in outputs])
            for j in range(len(flat_out))
        ],
        spec,
    )
    assert pytree.tree_structure(got) == pytree.tree_structure(expected)
    for g, e in zip(pytree.tree_leaves(got), pytree.tree_leaves(expected), strict=True):
        assert g.shape == e.shape
        torch.testing.assert_close(g, e, **TOL)
    return func


# ----------------------------------------------------------------------------- MLP
class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.lif1 = nn.Linear(6, 8), Lif()
        self.fc2, self.lif2 = nn.Linear(8, 5), Lif()
        self.head = nn.Linear(5, 3)

    def forward(self, x):
        return self.head(self.lif2(self.fc2(self.lif1(self.fc1(x)))))


def mlp_reference(m, x, vs):
    dv1, s1 = m.lif1(vs[0], m.fc1(x))
    dv2, s2 = m.lif2(vs[1], m.fc2(s1))
    return [(dv1, s1), (dv2, s2)], m.head(s2)


def test_mlp():
    func = run_and_compare(MLP().double(), mlp_reference, (4, 6))
    assert func.neuron_names == ["lif1", "lif2"]
    assert func.boundary_names == ["lif2"]
    code = func.get_ode_module().code
    assert "self.model.lif1(v_lif1, fc1, spikede_dt)" in code and "dv_lif2" in code


def test_mlp_interpolates_between_samples():
    model = MLP().double()
    func = ODEFuncFromFX(model)
    x = torch.randn(3, 2, 6, dtype=DT)
    func.set_inputs(x, torch.tensor([0.0, 1.0, 3.0], dtype=DT))
    vs = [torch.randn(2, 8, dtype=DT), torch.randn(2, 5, dtype=DT)]
    dv1 = func(torch.tensor(2.5, dtype=DT), vs)[0]
    x_mid = x[1] + 0.75 * (x[2] - x[1])
    torch.testing.assert_close(dv1, model.lif1(vs[0], model.fc1(x_mid))[0], **TOL)


def test_float32_follows_input():
    model = MLP()
    func = ODEFuncFromFX(model)
    x = torch.randn(3, 2, 6)
    func.set_inputs(x, torch.arange(3.0))
    out = func(1.0, [torch.zeros(2, 8), torch.zeros(2, 5)])
    assert all(o.dtype == torch.float32 for o in out)
    assert func.post([torch.stack([out[2]] * 3)]).dtype == torch.float32


# ----------------------------------------------------------------------------- CNN
class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1, self.lif1 = (
            nn.Conv2d(1, 4, 3, padding=1),
            nn.BatchNorm2d(4),
            Lif(),
        )
        self.pool = nn.MaxPool2d(2)
        self.drop = nn.Dropout(0.5)
        self.conv2, self.bn2, self.lif2 = (
            nn.Conv2d(4, 6, 3, padding=1),
            nn.BatchNorm2d(6),
            Lif(),
        )
        self.avg = nn.AvgPool2d(2)
        self.flat = nn.Flatten()
        self.fc, self.lif3 = nn.Linear(6 * 2 * 2, 10), Lif()
        self.head = nn.Linear(10, 3)

    def forward(self, x):
        h = self.drop(self.pool(self.lif1(self.bn1(self.conv1(x)))))
        h = self.flat(self.avg(self.lif2(self.bn2(self.conv2(h)))))
        return self.head(self.lif3(self.fc(h)))


def cnn_reference(m, x, vs):
    dv1, s1 = m.lif1(vs[0], m.bn1(m.conv1(x)))
    h = F.max_pool2d(s1, 2)
    dv2, s2 = m.lif2(vs[1], m.bn2(m.conv2(h)))
    h = F.avg_pool2d(s2, 2).reshape(s2.shape[0], -1)
    dv3, s3 = m.lif3(vs[2], m.fc(h))
    return [(dv1, s1), (dv2, s2), (dv3, s3)], m.head(s3)


def _randomise_bn(model):
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)


def test_cnn_batchnorm_pool_flatten_dropout_eval():
    torch.manual_seed(1)
    model = CNN().double()
    _randomise_bn(model)
    model.eval()
    func = run_and_compare(model, cnn_reference, (3, 1, 8, 8))
    assert func.neuron_count == 3


# ------------------------------------------------------------------- residual / skip
class ResidualInside(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc_in, self.lif1 = nn.Linear(5, 7), Lif()
        self.fc_a, self.lif2 = nn.Linear(7, 7), Lif()
        self.fc_b, self.lif3 = nn.Linear(7, 7), Lif()
        self.head = nn.Linear(7, 2)

    def forward(self, x):
        h = self.lif1(self.fc_in(x))
        h = h + self.fc_b(self.lif2(self.fc_a(h)))
        return self.head(self.lif3(h))


def residual_reference(m, x, vs):
    dv1, s1 = m.lif1(vs[0], m.fc_in(x))
    dv2, s2 = m.lif2(vs[1], m.fc_a(s1))
    dv3, s3 = m.lif3(vs[2], s1 + m.fc_b(s2))
    return [(dv1, s1), (dv2, s2), (dv3, s3)], m.head(s3)


def test_residual_block_inside_ode_part():
    func = run_and_compare(ResidualInside().double(), residual_reference, (3, 5))
    assert func.boundary_names == ["lif3"]


class SkipAcross(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.lif1 = nn.Linear(5, 6), Lif()
        self.fc2, self.lif2 = nn.Linear(6, 6), Lif()
        self.head, self.raw = nn.Linear(6, 3), nn.Linear(5, 3)

    def forward(self, x):
        s1 = self.lif1(self.fc1(x))
        s2 = self.lif2(self.fc2(s1))
        return self.head(s2 + s1) + self.raw(x)


def skip_reference(m, x, vs):
    dv1, s1 = m.lif1(vs[0], m.fc1(x))
    dv2, s2 = m.lif2(vs[1], m.fc2(s1))
    return [(dv1, s1), (dv2, s2)], m.head(s2 + s1) + m.raw(x)


def test_skip_and_raw_input_residual_across_last_neuron():
    func = run_and_compare(SkipAcross().double(), skip_reference, (3, 5))
    assert func.boundary_names == ["x", "lif1", "lif2"]


# ------------------------------------------------------------------ shape arithmetic
class ShapeArithmetic(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.lif1 = nn.Conv1d(3, 4, 3, padding=1), Lif()
        self.fc, self.lif2 = nn.Linear(4 * 5, 8), Lif()
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        B, C, N = x.shape
        h = self.lif1(self.conv(x)).reshape(B, -1)
        s = self.lif2(self.fc(h))
        return self.head(s).view(B, 2, C - 1).sum(1) * N


def shape_reference(m, x, vs):
    dv1, s1 = m.lif1(vs[0], m.conv(x))
    dv2, s2 = m.lif2(vs[1], m.fc(s1.reshape(x.shape[0], -1)))
    out = m.head(s2).view(x.shape[0], 2, 2).sum(1) * x.shape[2]
    return [(dv1, s1), (dv2, s2)], out


def test_shape_arithmetic_recomputed_per_step():
    func = run_and_compare(ShapeArithmetic().double(), shape_reference, (3, 3, 5))
    # B, C, N are recomputed in the post part from x, not recorded as boundaries.
    assert func.boundary_names == ["x", "lif2"]


# --------------------------------------------------------------- module called twice
class Reused(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.lif = nn.Linear(6, 6), Lif()
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        return self.head(self.lif(self.fc(self.lif(self.fc(x)))))


def reused_reference(m, x, vs):
    dv1, s1 = m.lif(vs[0], m.fc(x))
    dv2, s2 = m.lif(vs[1], m.fc(s1))
    return [(dv1, s1), (dv2, s2)], m.head(s2)


def test_module_and_neuron_called_twice():
    func = run_and_compare(Reused().double(), reused_reference, (3, 6))
    assert func.neuron_names == ["lif", "lif"]
    assert func.neurons[0] is func.neurons[1]


# -------------------------------------------------------------------- extra inputs
class GraphNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.lif1 = nn.Linear(4, 6), Lif()
        self.fc2, self.lif2 = nn.Linear(6, 6), Lif()
        self.head = nn.Linear(6, 3)

    def forward(self, x, adj, mask):
        s1 = self.lif1(adj @ self.fc1(x))
        s2 = self.lif2((adj @ self.fc2(s1)) * mask.unsqueeze(-1))
        out = self.head(s2) * mask.unsqueeze(-1)
        return out.sum(1) / mask.sum(1, keepdim=True)


def graph_reference(m, x, vs, adj, mask):
    dv1, s1 = m.lif1(vs[0], adj @ m.fc1(x))
    dv2, s2 = m.lif2(vs[1], (adj @ m.fc2(s1)) * mask[:, :, None])
    out = (m.head(s2) * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True)
    return [(dv1, s1), (dv2, s2)], out


@pytest.mark.parametrize("by_keyword", [False, True])
def test_extra_inputs_adjacency_and_per_sample_mask(by_keyword):
    torch.manual_seed(2)
    nodes = 5
    adj = torch.rand(nodes, nodes, dtype=DT)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=DT)
    if by_keyword:
        func = run_and_compare(
            GraphNet().double(),
            graph_reference,
            (3, nodes, 4),
            extras=(adj,),
            extra_kwargs={"mask": mask},
        )
    else:
        func = run_and_compare(
            GraphNet().double(), graph_reference, (3, nodes, 4), extras=(adj, mask)
        )
    assert func.boundary_names == ["lif2"]


# ---------------------------------------------------------------------- tuple output
class TupleOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.lif1 = nn.Linear(4, 6), Lif()
        self.fc2, self.lif2 = nn.Linear(6, 5), Lif()
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        s1 = self.lif1(self.fc1(x))
        s2 = self.lif2(self.fc2(s1))
        return self.head(s2), s2.mean(-1), s1


def tuple_reference(m, x, vs):
    dv1, s1 = m.lif1(vs[0], m.fc1(x))
    dv2, s2 = m.lif2(vs[1], m.fc2(s1))
    return [(dv1, s1), (dv2, s2)], (m.head(s2), s2.mean(-1), s1)


def test_tuple_output_each_element_stacked():
    run_and_compare(TupleOut().double(), tuple_reference, (3, 4))


# ----------------------------------------------------- post parts not time-broadcastable
class FlattenAfter(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.lif = nn.Conv2d(2, 3, 3, padding=1), Lif()
        self.fc = nn.Linear(3 * 4 * 4, 2)

    def forward(self, x):
        return self.fc(torch.flatten(self.lif(self.conv(x)), 1))


def flatten_reference(m, x, vs):
    dv, s = m.lif(vs[0], m.conv(x))
    return [(dv, s)], m.fc(s.reshape(s.shape[0], -1))


class ConvAfter(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.lif = nn.Conv2d(2, 3, 3, padding=1), Lif()
        self.conv_post = nn.Conv2d(3, 2, 3)
        self.fc = nn.Linear(2 * 2 * 2, 2)

    def forward(self, x):
        return self.fc(self.conv_post(self.lif(self.conv(x))).flatten(1))


def conv_after_reference(m, x, vs):
    dv, s = m.lif(vs[0], m.conv(x))
    return [(dv, s)], m.fc(m.conv_post(s).reshape(s.shape[0], -1))


class MeanAfter(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.lif = nn.Linear(4, 6), Lif()
        self.head = nn.Linear(6, 3)

    def forward(self, x):  # x: [B, tokens, features]
        return self.head(self.lif(self.fc(x)).mean(1))


def mean_reference(m, x, vs):
    dv, s = m.lif(vs[0], m.fc(x))
    return [(dv, s)], m.head(s.mean(1))


@pytest.mark.parametrize(
    ("model_cls", "reference", "x_shape"),
    [
        (FlattenAfter, flatten_reference, (3, 2, 4, 4)),
        (ConvAfter, conv_after_reference, (3, 2, 4, 4)),
        (MeanAfter, mean_reference, (3, 5, 4)),
    ],
    ids=["flatten(1)", "conv-after-last-neuron", "mean(1)"],
)
def test_post_part_computes_per_time_step(model_cls, reference, x_shape):
    run_and_compare(model_cls().double(), reference, x_shape)


class BatchNormAfter(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.lif = nn.Linear(4, 6), Lif()
        self.bn = nn.BatchNorm1d(6)
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        return self.head(self.bn(self.lif(self.fc(x))))


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_post_batchnorm_uses_per_step_batch_statistics(training):
    torch.manual_seed(3)
    model = BatchNormAfter().double()
    _randomise_bn(model)
    model.train(training)
    twin = copy.deepcopy(model)
    func = ODEFuncFromFX(model)
    x = torch.randn(3, 8, 4, dtype=DT)
    func.set_inputs(x, torch.arange(3, dtype=DT))
    vs = [torch.randn(3, 8, 6, dtype=DT)]
    spikes = torch.stack([func(float(i), [vs[0][i]])[1] for i in range(3)])
    got = func.post([spikes])
    expected = torch.stack(
        [twin.head(twin.bn(twin.lif(vs[0][i], twin.fc(x[i]))[1])) for i in range(3)]
    )
    torch.testing.assert_close(got, expected, **TOL)
    torch.testing.assert_close(model.bn.running_mean, twin.bn.running_mean, **TOL)
    assert model.bn.num_batches_tracked.item() == (3 if training else 0)


# -------------------------------------------------------- spiking transformer block
class SpikingAttention(nn.Module):
    def __init__(self, dim=8, heads=2):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v = (
            nn.Linear(dim, dim),
            nn.Linear(dim, dim),
            nn.Linear(dim, dim),
        )
        self.lif_q, self.lif_k, self.lif_v = Lif(), Lif(), Lif()
        self.proj, self.lif_o = nn.Linear(dim, dim), Lif()
        self.mlp, self.lif_m = nn.Linear(dim, dim), Lif()
        self.head = nn.Linear(dim, 3)

    def forward(self, x):
        B, N, D = x.shape
        hd = D // self.heads
        q = self.lif_q(self.q(x)).reshape(B, N, self.heads, hd).transpose(1, 2)
        k = self.lif_k(self.k(x)).reshape(B, N, self.heads, hd).transpose(1, 2)
        v = self.lif_v(self.v(x)).reshape(B, N, self.heads, hd).transpose(1, 2)
        attn = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
        attn = attn.softmax(dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(B, N, D)
        h = x + self.lif_o(self.proj(out))
        h = h + self.lif_m(self.mlp(h))
        return self.head(h.mean(1))


def attention_reference(m, x, vs):
    b, n, d = x.shape
    hd = d // m.heads
    results = []

    def heads(i, module, lin):
        dv, s = module(vs[i], lin(x))
        results.append((dv, s))
        return s.reshape(b, n, m.heads, hd).permute(0, 2, 1, 3)

    q, k, v = heads(0, m.lif_q, m.q), heads(1, m.lif_k, m.k), heads(2, m.lif_v, m.v)
    scores = torch.einsum("bhid,bhjd->bhij", q, k) / math.sqrt(hd)
    out = torch.einsum("bhij,bhjd->bhid", torch.softmax(scores, -1), v)
    out = out.permute(0, 2, 1, 3).reshape(b, n, d)
    dv_o, s_o = m.lif_o(vs[3], m.proj(out))
    h = x + s_o
    dv_m, s_m = m.lif_m(vs[4], m.mlp(h))
    results += [(dv_o, s_o), (dv_m, s_m)]
    return results, m.head((h + s_m).mean(1))


def test_spiking_transformer_block():
    func = run_and_compare(SpikingAttention().double(), attention_reference, (3, 4, 8))
    assert func.neuron_names == ["lif_q", "lif_k", "lif_v", "lif_o", "lif_m"]
