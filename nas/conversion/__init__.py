"""torchvision ResNets as scheme networks: ``nas.convert(model, scheme, **options)`` (the function; this package
holds it).

See ``nas.conversion.network`` for the mapping (block → step) and the treatment of the post-activation ReLU,
``nas.conversion.spec`` for the spec stored beside the weights, ``nas.conversion.architectures`` for the named
architectures and their pretrained weights (read offline from the torch.hub cache), ``nas.conversion.folder``
for ``nas convert``'s export folder, and docs/convert.md.
"""
from .architectures import ARCHITECTURES, STEMS, torchvision_model
from .network import SchemeResNet, build_converted, convert
from .spec import RELU_MODES, ConvertedSpec

__all__ = ["ARCHITECTURES", "ConvertedSpec", "RELU_MODES", "STEMS", "SchemeResNet", "build_converted", "convert",
           "torchvision_model"]
