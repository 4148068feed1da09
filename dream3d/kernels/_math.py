"""Elementwise math shared by the Triton kernels, accurate without libdevice (which the interpreter
lacks): log1p and expm1 through Goldberg's and Kahan's identities.

On the GPU a float32 '/' compiles to div.full (2 ulp, and subnormal quotients matter to the SDF
density's backward), so the divisions here go through div, correctly rounded like torch and the CUDA
kernels (-prec-div=true). tl.exp stays ex2.approx of x * log2(e) (a few ulp): values only."""
import triton
import triton.language as tl


@triton.jit
def div(a, b):
    """a / b correctly rounded for float32 as for float64 (b a tensor; a a tensor or a number)."""
    if b.dtype == tl.float32:
        q = tl.div_rn(tl.zeros_like(b) + a, b)
    else:
        q = a / b
    return q


@triton.jit
def softplus(x):
    """torch's softplus (threshold 20). log1p(y) is log(u) * y / (u - 1) with u = 1 + y (accurate to
    a few ulps without libdevice), so a tiny density keeps its relative precision in float32."""
    y = tl.exp(tl.minimum(x, 20.0))
    u = 1.0 + y
    log1p = tl.where(u == 1.0, y, div(tl.log(u) * y, tl.where(u == 1.0, 1.0, u - 1.0)))
    return tl.where(x > 20.0, x, log1p)


@triton.jit
def one_minus_exp_neg(y):
    """-expm1(-y) = 1 - exp(-y) for y >= 0, with its relative precision kept for small y
    ((1 - u) * y / -log(u), u = exp(-y)); for u < 1/2 the plain 1 - u is already exact enough."""
    u = tl.exp(-y)
    safe_log = tl.where((u == 1.0) | (u < 0.5), -1.0, tl.log(u))
    kahan = div((1.0 - u) * y, -safe_log)
    return tl.where(u == 1.0, y, tl.where(u < 0.5, 1.0 - u, kahan))
