"""Zero-copy conversion between torch tensors and the arrays the ops run on.

CPU tensors become NumPy arrays (``Tensor.numpy()``: the same memory) and results come back
through ``torch.from_numpy`` (the same memory again). CUDA tensors become CuPy arrays through
DLPack, and the op runs on torch's current stream of that device
(``cupy.cuda.ExternalStream``), so nothing is synchronised or copied to the host. torch and
cupy are imported only when a tensor is converted.
"""

from __future__ import annotations

import contextlib
import sys

import numpy as np


def torch_module():
    """torch, imported on first use; a clear ImportError names the extra when it is missing."""
    mod = sys.modules.get("torch")
    if mod is not None:
        return mod
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised only without torch
        raise ImportError(
            "lrnnx_array.torch needs PyTorch: pip install 'lrnnx_array[torch]' "
            f"(import failed: {exc})"
        ) from exc
    return torch


def is_tensor(x) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def common_device(named_tensors, op: str):
    """The one device of ``[(name, tensor), ...]``; mixed or unsupported devices raise."""
    first_name, first = named_tensors[0]
    dev = first.device
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(
            f"{op}: {first_name} is on device {dev}; the bridge runs CPU tensors through NumPy "
            "and CUDA tensors through CuPy only"
        )
    for name, t in named_tensors[1:]:
        if t.device != dev:
            raise ValueError(
                f"{op}: {name} is on device {t.device} but {first_name} is on {dev}; "
                "all tensors must be on one device (move them with .to(device))"
            )
    return dev


def _plain(t):
    """``t`` without autograd history, lazy conjugate/negative bits or gaps in memory.

    Each step copies only when it has to, so a contiguous tensor keeps its memory.
    bfloat16 has no NumPy dtype: it computes in float32, as float16 does everywhere.
    """
    torch = torch_module()
    t = t.detach()
    if t.is_conj():
        t = t.resolve_conj()
    if t.is_neg():
        t = t.resolve_neg()
    if t.dtype is torch.bfloat16:
        t = t.float()
    return t.contiguous()


def to_backend(t):
    """NumPy (CPU) or CuPy (CUDA) view of tensor ``t``: the same memory when ``t`` is plain."""
    t = _plain(t)
    if t.device.type == "cuda":
        import cupy

        return cupy.from_dlpack(t)
    return t.numpy()


def from_backend(arr):
    """torch tensor on the same memory as ``arr`` (NumPy or CuPy); other values pass through."""
    if isinstance(arr, (np.ndarray, np.generic)):
        torch = torch_module()
        arr = np.asarray(arr)
        if not arr.flags.writeable or any(s < 0 for s in arr.strides):
            # torch.from_numpy refuses negative strides and warns on read-only memory.
            arr = np.array(arr)
        return torch.from_numpy(arr)
    if type(arr).__module__.split(".")[0] == "cupy":
        torch = torch_module()
        return torch.from_dlpack(arr)
    return arr


def shares_memory(t, arr) -> bool:
    """Whether backend array ``arr`` is a view of tensor ``t``'s memory (start pointers)."""
    if isinstance(arr, np.ndarray):
        return arr.ctypes.data == t.data_ptr()
    data = getattr(arr, "data", None)
    return getattr(data, "ptr", None) == t.data_ptr()


@contextlib.contextmanager
def launch_context(device):
    """On CUDA: the CuPy device and torch's current stream of ``device``; on CPU: nothing."""
    if device is None or device.type != "cuda":
        yield
        return
    import cupy

    torch = torch_module()
    index = device.index if device.index is not None else torch.cuda.current_device()
    stream = torch.cuda.current_stream(index)
    with cupy.cuda.Device(index), cupy.cuda.ExternalStream(stream.cuda_stream, index):
        yield
