"""The device-specific parts of the GPU bench, in one place: the GPU's name, its fp16 rate, its memory counters.

    tflops, source = dense_fp16_tflops(gpu_name("cuda"))    # (989.0, "table") on an H100 SXM
    t4_seconds = seconds * t4_scale(tflops)                  # the same work on one T4, by peak fp16 rate

On a CPU every memory figure is None, the name is "cpu", and the weights that are fp16 on a GPU
load as fp32 (compute_dtype: fp16 matrix products ran 9x slower than fp32 on this project's CPUs):
the bench's CPU run (the test) goes through the same code with these answering for the CPU.

The table holds each GPU's dense fp16 tensor-core rate (fp32 accumulate, no sparsity) from NVIDIA's
data sheets: T4 65, V100 125 (SXM2), A10 125, A10G 70 (AWS's variant, with fewer tensor FLOPS than
the A10), L4 121 (242 with sparsity), L40S 362, A100 312, H100 SXM 989, H100 PCIe 756, H100 NVL 835,
H200 989. Entries are matched in order against torch.cuda.get_device_name ("NVIDIA H100 80GB HBM3",
"Tesla T4", "NVIDIA A10G"), the more specific name first ("H100 PCIe" before "H100", "L40S"
before "L4", "A10G" before "A10").
"""

from __future__ import annotations

T4_FP16_TFLOPS = 65.0
GIB = 2**30
# The weights the GPU bench loads the judge in: fp16, or bitsandbytes LLM.int8 / NF4 with fp16 compute.
PRECISIONS = ("fp16", "8bit", "4bit")
DENSE_FP16_TFLOPS = (
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.0),
    ("H200", 989.0),
    ("A100", 312.0),
    ("A10G", 70.0),
    ("A10", 125.0),
    ("L40S", 362.0),
    ("L4", 121.0),
    ("V100", 125.0),
    ("T4", T4_FP16_TFLOPS),
)


def is_cuda(device: str) -> bool:
    return device.startswith("cuda")


def resolve_device(device: str) -> str:
    """The device with its index ("cuda" -> "cuda:0"): torch's memory limit needs one; a clear error without a GPU."""
    if not is_cuda(device):
        return device
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError(
            f"--device {device}: this machine has no CUDA device; run the decoder stage without --device"
        )
    return device if ":" in device else f"cuda:{torch.cuda.current_device()}"


def compute_dtype(device: str) -> str:
    """The judge's dtype on a GPU is fp16 (a T4 has no bf16); a CPU computes fp16 many times slower than fp32, so fp32 there."""
    return "float16" if is_cuda(device) else "float32"


def gpu_name(device: str) -> str:
    if not is_cuda(device):
        return "cpu"
    import torch

    return torch.cuda.get_device_name(device)


def dense_fp16_tflops(name: str, given: float | None = None) -> tuple[float | None, str]:
    """(TFLOPS, where the figure came from): the given rate, else the table's entry for this GPU, else (None, "unknown")."""
    if given is not None:
        if not given > 0:
            raise ValueError(f"gpu_tflops must be a positive dense fp16 rate in TFLOPS; got {given!r}")
        return float(given), "given"
    for key, tflops in DENSE_FP16_TFLOPS:
        if key.lower() in name.lower():
            return tflops, "table"
    return None, "unknown"


def t4_scale(tflops: float | None) -> float | None:
    """How many times longer one T4 takes for the same work, at the same share of each GPU's peak fp16 rate."""
    return None if tflops is None else tflops / T4_FP16_TFLOPS


def cap_memory(device: str, gib: float | None) -> None:
    """Let this process allocate at most gib GiB on device (a T4's 15 GiB on a bigger GPU); None: the whole GPU."""
    if not is_cuda(device):
        return
    import torch

    total = torch.cuda.get_device_properties(device).total_memory
    torch.cuda.set_per_process_memory_fraction(1.0 if gib is None else min(1.0, gib * GIB / total), device)


def release(device: str) -> None:
    """Return cached blocks to the GPU (between two models) and start the peak counter anew."""
    if not is_cuda(device):
        return
    import gc

    import torch

    gc.collect()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)


def allocated_gib(device: str) -> float | None:
    if not is_cuda(device):
        return None
    import torch

    return torch.cuda.memory_allocated(device) / GIB


def peak_gib(device: str) -> float | None:
    """The most memory tensors held since the last release (torch.cuda.max_memory_allocated)."""
    if not is_cuda(device):
        return None
    import torch

    return torch.cuda.max_memory_allocated(device) / GIB


def reset_peak(device: str) -> None:
    if is_cuda(device):
        import torch

        torch.cuda.reset_peak_memory_stats(device)
