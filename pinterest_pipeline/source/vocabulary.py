"""Word pools the generator draws from: built once per seed with Faker, then sampled with numpy."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from faker import Faker
from faker.providers.address.en_US import Provider as AddressProvider

#: The 13 categories of the original data set, with the keywords their pins are titled and tagged with.
CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "art": ("Painting", "Watercolor", "Sketch", "Drawing", "Abstract Art", "Canvas Art", "Portrait"),
    "beauty": ("Makeup", "Skincare", "Nail Art", "Hairstyles", "Eyeshadow", "Lipstick", "Braids"),
    "christmas": ("Christmas Tree", "Christmas Decor", "Advent Calendar", "Stocking", "Gingerbread",
                  "Holiday Wreath", "Christmas Cookies"),
    "diy-and-crafts": ("DIY Projects", "Paper Crafts", "Crochet", "Macrame", "Upcycling", "Knitting",
                       "Kids Crafts"),
    "education": ("Classroom", "Worksheets", "Homeschool", "Study Tips", "Teaching", "Math Games",
                  "Reading"),
    "event-planning": ("Wedding", "Birthday Party", "Baby Shower", "Party Decor", "Centerpieces",
                       "Invitations", "Bridal Shower"),
    "finance": ("Budgeting", "Saving Money", "Investing", "Side Hustle", "Debt Payoff", "Frugal Living",
                "Retirement"),
    "home-decor": ("Living Room", "Bedroom Decor", "Kitchen", "Farmhouse Decor", "Wall Art", "Bathroom",
                   "Boho Decor"),
    "mens-fashion": ("Mens Outfits", "Streetwear", "Suits", "Sneakers", "Mens Style", "Beard Styles",
                     "Casual Wear"),
    "quotes": ("Inspirational Quotes", "Love Quotes", "Motivation", "Life Quotes", "Funny Quotes",
               "Friendship Quotes", "Wisdom"),
    "tattoos": ("Small Tattoos", "Tattoo Designs", "Sleeve Tattoo", "Minimalist Tattoo", "Floral Tattoo",
                "Script Tattoo", "Wrist Tattoo"),
    "travel": ("Travel Tips", "Beach", "Road Trip", "Backpacking", "Bucket List", "Hiking", "City Guide"),
    "vehicles": ("Classic Cars", "Motorcycles", "Trucks", "Car Interior", "Camper Van", "Sports Cars",
                 "Off Road"),
}
CATEGORIES: tuple[str, ...] = tuple(CATEGORY_KEYWORDS)
#: How often each category occurs (not uniform, as in the original scrape).
CATEGORY_WEIGHTS: tuple[float, ...] = (10, 9, 8, 11, 7, 6, 7, 9, 6, 8, 7, 8, 4)

ADJECTIVES: tuple[str, ...] = (
    "Easy", "Cute", "Simple", "Beautiful", "Creative", "Modern", "Vintage", "Amazing", "Unique", "Cheap",
    "Cozy", "Minimalist", "Stunning", "Quick", "Aesthetic", "Classic", "Colorful", "Elegant", "Rustic",
    "Best", "Genius", "Budget", "Trendy", "Dreamy",
)
AUDIENCES: tuple[str, ...] = (
    "Beginners", "Women", "Men", "Kids", "Teens", "Couples", "Students", "Small Spaces", "Everyone", "Moms",
)
POSTER_SUFFIXES: tuple[str, ...] = ("Blog", "Magazine", "Studio", "Designs", "Co.", "Life", "Daily", "Shop")


@dataclass(frozen=True)
class Vocabulary:
    """Everything the row generator picks from; every tuple is indexed by numpy-drawn integers."""

    sentences: tuple[str, ...]
    words: tuple[str, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    countries: tuple[str, ...]
    country_weights: np.ndarray
    posters: tuple[str, ...]
    poster_followers: tuple[str, ...]
    poster_weights: np.ndarray
    category_tags: tuple[tuple[str, ...], ...]


def format_follower_count(followers: int) -> str:
    """Pinterest's display of a follower count: ``452``, ``3.2k``, ``5k``, ``12k``, ``1M``, ``2.5M``."""
    if followers < 1_000:
        return str(followers)
    unit, size = ("k", 1_000) if followers < 1_000_000 else ("M", 1_000_000)
    tenths = followers * 10 // size
    if tenths < 100 and tenths % 10:
        return f"{tenths // 10}.{tenths % 10}{unit}"
    return f"{tenths // 10}{unit}"


def _zipf_weights(size: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Popularity weights over ``size`` items: a Zipf-like curve over a random ranking."""
    weights = 1.0 / (np.arange(size) + 10.0) ** exponent
    rng.shuffle(weights)
    return weights / weights.sum()


def _poster_names(fake: Faker, count: int) -> list[str]:
    """Account names: mostly people, some brands, some blogs."""
    names: list[str] = []
    while len(names) < count:
        kind = fake.random_int(0, 19)
        if kind < 12:
            name = fake.name()
        elif kind < 16:
            name = fake.company()
        else:
            name = f"{fake.word().title()} {fake.word().title()} {fake.random_element(POSTER_SUFFIXES)}"
        names.append(name)
    return list(dict.fromkeys(names))


def _category_tags(keywords: tuple[str, ...]) -> tuple[str, ...]:
    """Tags of a category: its keywords, alone and with an adjective."""
    tags = list(keywords)
    tags += [f"{adjective} {keyword}" for keyword in keywords for adjective in ADJECTIVES[::3]]
    tags += [f"{keyword} Ideas" for keyword in keywords]
    return tuple(tags)


@lru_cache(maxsize=8)
def build_vocabulary(seed: int) -> Vocabulary:
    """The pools for one seed; cached, so Faker runs once per process and seed."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = np.random.default_rng([seed, 0x70_6F_6F_6C])
    posters = _poster_names(fake, 4_000)
    followers = np.clip(rng.lognormal(mean=np.log(15_000), sigma=2.0, size=len(posters)), 0, 60_000_000)
    countries = tuple(AddressProvider.countries)
    return Vocabulary(
        sentences=tuple(fake.sentence(nb_words=12) for _ in range(4_000)),
        words=tuple(word.title() for word in dict.fromkeys(fake.words(nb=3_000))),
        first_names=tuple(fake.first_name() for _ in range(4_000)),
        last_names=tuple(fake.last_name() for _ in range(4_000)),
        countries=countries,
        country_weights=_zipf_weights(len(countries), rng, exponent=1.1),
        posters=tuple(posters),
        poster_followers=tuple(format_follower_count(int(n)) for n in followers),
        poster_weights=_zipf_weights(len(posters), rng, exponent=0.9),
        category_tags=tuple(_category_tags(CATEGORY_KEYWORDS[c]) for c in CATEGORIES),
    )
