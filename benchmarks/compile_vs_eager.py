"""compile=True against eager on W1 (T = 400) and W2 (T = 100), odeint/euler, one thread.

Run: ``python benchmarks/compile_vs_eager.py``. Each wrapper is warmed up (forward and
backward, so both compiled graphs exist) before the best of three timed calls.
"""

import time

import torch
from torch import nn

from spikede import LIFNeuron, SNNWrapper

torch.manual_seed(0); torch.set_num_threads(1)
def w1():
    m = nn.Sequential(nn.Linear(64,128), LIFNeuron(), nn.Linear(128,10), LIFNeuron())
    return m, torch.rand(400, 32, 64)*2
def w2():
    m = nn.Sequential(nn.Conv2d(2,16,3), LIFNeuron(), nn.Conv2d(16,32,3,stride=2), LIFNeuron(), nn.Flatten(), nn.Linear(32*6*6,10), LIFNeuron())
    return m, torch.rand(100, 16, 2, 16, 16)*2
for wl in (w1, w2):
    m, x = wl()
    e = SNNWrapper(m, integrator="odeint"); c = SNNWrapper(m, integrator="odeint", compile=True)
    res = {}
    for name, s in [("eager", e), ("compiled", c)]:
        s(x).sum().backward(); s(x)
        with torch.no_grad(): s(x)
    for rep in range(3):
        for name, s in [("eager", e), ("compiled", c)]:
            t=time.perf_counter()
            with torch.no_grad(): s(x)
            f=time.perf_counter()-t
            t=time.perf_counter(); s(x).sum().backward(); fb=time.perf_counter()-t
            res.setdefault(name, []).append((f, fb))
    for name, r in res.items():
        print(wl.__name__, name, "fwd(no_grad) ms %.1f" % (min(a for a,_ in r)*1e3), "fwd+bwd ms %.1f" % (min(b for _,b in r)*1e3), flush=True)
