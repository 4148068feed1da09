"""G_I, the stylised Stable Diffusion of stage 1: fine-tuned on SDF renders with random solid backgrounds
("a CLS in the style of <*>"), run on "PROMPT in the style of <*>", its background removed before CLIP
embeds the image for G_M. diffusers and transformers are imported only when a function needs them."""
from .background import Cutout, remove_background
from .sd_folder import EMBEDDING_FILE, GI_META, Text2ImgError, check_sd_folder

__all__ = ["Cutout", "EMBEDDING_FILE", "GI_META", "Text2ImgError", "check_sd_folder", "remove_background"]
