"""Words -> categories: the synonym table and the head-noun rule of category_from_prompt."""
from __future__ import annotations

import re
from types import MappingProxyType


_WORDS = {
    "airplane": "airplane aeroplane plane airliner aircraft jet jetliner jumbo biplane seaplane "
                "warplane glider",
    "bench": "bench pew",
    "cabinet": "cabinet cupboard dresser wardrobe drawer armoire sideboard closet credenza nightstand "
               "locker bureau",
    "car": "car automobile vehicle truck pickup jeep sedan suv van minivan hatchback coupe convertible "
           "limousine limo taxi cab racecar roadster lorry motorcar sportscar supercar",
    "chair": "chair armchair stool barstool recliner throne highchair",
    "display": "display monitor screen tv television lcd",
    "lamp": "lamp lantern chandelier lampshade sconce streetlight streetlamp lamppost",
    "loudspeaker": "loudspeaker speaker subwoofer woofer soundbar",
    "rifle": "rifle gun shotgun musket carbine firearm machinegun",
    "sofa": "sofa couch settee loveseat divan futon chesterfield sectional",
    "table": "table desk workbench",
    "telephone": "telephone phone smartphone cellphone iphone handset payphone",
    "watercraft": "watercraft boat ship yacht canoe kayak sailboat sailship steamboat steamship speedboat "
                  "motorboat rowboat dinghy ferry tugboat submarine vessel sloop schooner galleon raft "
                  "catamaran warship battleship frigate barge trawler houseboat lifeboat",
}
SYNONYMS = MappingProxyType({word: category for category, words in _WORDS.items()
                             for word in words.split()})



# Words that end the noun phrase naming the object (as punctuation does): prepositions, conjunctions,
# relative pronouns, "made". The head noun of "a park bench overgrown with vines" is in "a park bench
# overgrown".
_BREAKS = frozenset("""of with on in at by for from to under over near beside besides behind above below into
    onto inside outside atop against around along across beneath underneath without within through
    between among made that which who whose where while and or but""".split())



def _singulars(word: str) -> list[str]:
    """``word`` and the singulars it may be the plural of (benches -> bench, ferries -> ferry)."""
    out = [word]
    if word.endswith("ies") and len(word) > 4:
        out.append(word[:-3] + "y")
    if word.endswith("es") and len(word) > 3:
        out.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss") and len(word) > 2:
        out.append(word[:-1])
    return out



def _category_of(word: str) -> str | None:
    for candidate in _singulars(word):
        if candidate in SYNONYMS:
            return SYNONYMS[candidate]
    return None



def category_from_prompt(prompt: str) -> str | None:
    """The library category a free-text prompt asks for, or None.

    Rule: the prompt is lower-cased and split into words (letters and digits; "car's" -> "car"); the
    words are cut into phrases at punctuation and at prepositions, conjunctions and relative pronouns
    (of, with, on, in, and, that, made, ...). The first phrase holding a known noun (a category, a
    synonym, or a plural of either) decides, and within it the last such noun wins, as English puts
    the head noun last: "a table lamp" -> lamp, "a park bench overgrown with vines" -> bench, "a photo
    of a jet plane" -> airplane (the first phrase, "a photo", names nothing), "a dog on a sofa" -> sofa
    (the supporting object when the subject is no category), "a cat" -> None."""
    if not isinstance(prompt, str):
        raise TypeError(f"a prompt is a string, got {type(prompt).__name__}")
    words = re.findall(r"[a-z0-9]+|[,;:.!?()\[\]]", re.sub(r"['\u2019]s\b", "", prompt.lower()))
    phrase: list[str] = []
    for word in words + ["."]:  # a final break closes the last phrase
        if word in _BREAKS or not word.isalnum():
            found = [c for c in map(_category_of, phrase) if c is not None]
            if found:
                return found[-1]
            phrase = []
        else:
            phrase.append(word)
    return None
