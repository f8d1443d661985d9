#!/usr/bin/env python
"""Generate the bundled demo data: a small restaurant-review corpus and labelled dish-name CSVs.

Everything is made from templates and dish lists in this file with a fixed seed, so the sample is
the project's own and reproducible. Writes, under --output-dir (default data/sample):
  reviews.txt                 pretraining corpus: one sentence per line, a blank line between reviews
  dish_train.csv, dish_val.csv   seed format ``review,dish_name`` (one row per dish; no-dish reviews
                              have an empty dish_name); val uses dishes that never occur in train
  unseen_reviews.txt          new phrasings with val dishes, one review per line, for predict.py
"""
import argparse
import csv
import io
import random
from pathlib import Path

from datamodules.common.script_flags import ScriptArgumentParser

DISHES = {
    "singaporean": ["chicken rice", "laksa", "chilli crab", "char kway teow", "bak kut teh", "kaya toast",
                    "hokkien mee", "satay", "nasi lemak", "mala steamboat", "fish head curry", "roti prata"],
    "japanese": ["tonkotsu ramen", "salmon sashimi", "chicken katsu", "unagi don", "miso soup", "gyoza",
                 "tempura udon", "okonomiyaki", "matcha ice cream", "takoyaki"],
    "italian": ["margherita pizza", "spaghetti carbonara", "lasagna", "mushroom risotto", "tiramisu",
                "gnocchi", "osso buco", "panna cotta", "penne arrabbiata", "burrata"],
    "american": ["cheeseburger", "buffalo wings", "mac and cheese", "clam chowder", "pulled pork sandwich",
                 "apple pie", "fried chicken", "pancakes", "lobster roll", "brisket"],
    "mexican": ["fish tacos", "carnitas", "guacamole", "chicken enchiladas", "churros", "elote",
                "beef burrito", "pozole", "quesadilla", "tamales"],
    "indian": ["butter chicken", "lamb biryani", "palak paneer", "garlic naan", "masala dosa", "samosa",
               "chana masala", "tandoori chicken", "mango lassi", "rogan josh"],
    "thai": ["pad thai", "green curry", "tom yum soup", "mango sticky rice", "som tam", "massaman curry",
             "pad see ew", "khao soi"],
    "french": ["duck confit", "steak frites", "french onion soup", "creme brulee", "coq au vin",
               "bouillabaisse", "croque monsieur", "ratatouille"],
    "chinese": ["peking duck", "xiao long bao", "mapo tofu", "kung pao chicken", "char siu", "wonton noodles",
                "egg tarts", "hot and sour soup", "dan dan noodles", "scallion pancakes"],
}
# Slot fillers that are not dishes, so a model must read context, not just spot unfamiliar words.
FILLERS = {
    "adj": ["amazing", "bland", "crispy", "soggy", "generous", "tiny", "overpriced", "fresh", "greasy", "perfect",
            "lukewarm", "rich", "smoky", "sweet", "forgettable", "outstanding", "salty", "tender", "dry", "fragrant"],
    "person": ["my wife", "my brother", "the chef", "our waiter", "my colleague", "the owner", "my kids",
               "a friend of mine", "my grandmother", "the bartender", "our host", "my neighbour"],
    "place": ["downtown", "near the station", "on Main Street", "by the river", "in the mall", "at the market",
              "in Chinatown", "near campus", "at the airport", "on the waterfront"],
    "time": ["ten minutes", "half an hour", "forty minutes", "an hour", "twenty minutes", "five minutes"],
    "drink": ["iced tea", "lemonade", "house wine", "espresso", "craft beer", "sparkling water"],
    "when": ["last Friday", "on Sunday", "for lunch", "after work", "on my birthday", "late at night",
             "yesterday", "during the holidays"],
}
ONE_DISH = [
    "I like the {a} a lot!", "The {a} doesn't taste nice.", "Their {a} is the best {place}.",
    "We ordered the {a} and it was {adj}.", "Try the {a}, you will not regret it.",
    "The {a} was a bit too {adj} for me.", "Honestly, the {a} here is overrated.",
    "{Person} loved the {a}.", "{A} is what keeps me coming back.", "The portion of {a} was {adj} for the price.",
    "I would come back just for the {a}.", "Skip the {a}; it was {adj} and {adj2}.",
    "{Person} recommended the {a} and was right.", "Best {a} I have had in years!",
    "The {a} arrived in {time}, {adj} as ever.", "We shared a plate of {a} (great value).",
    "I went {when} and the {a} was {adj}.", "The {a} goes well with a glass of {drink}.",
    "{Person} ordered the {a} {when} and finished it all.", "Their {adj} {a} is worth the {time} wait.",
]
TWO_DISHES = [
    "The {a} was {adj} but the {b} was disappointing.", "We had {a} and {b}, both {adj}.",
    "Get the {a}, skip the {b}.", "The {a} came out fast; the {b} took {time}.",
    "I ordered the {a} while {person} had the {b}.", "Their {a} pairs well with the {b}.",
    "Between the {a} and the {b}, I prefer the {b}.", "{Person} swears by the {a}, but I liked the {b} more.",
]
NO_DISH = [
    "The service was {adj} and quick.", "Parking is hard to find {place}.", "The place was packed {when}.",
    "Prices are reasonable for a spot {place}.", "The music was too loud to talk.",
    "Staff were rude and the wait was {time}.", "Clean tables and a cosy atmosphere.",
    "We will definitely come back {when}.", "{Person} thought the decor was {adj}.",
    "It is a great spot {place} for a family dinner.", "Our server forgot the {drink} twice.",
    "Open late, which is rare {place}.", "{Person} waited {time} for a table {when}.",
    "The {drink} was {adj}, the rest was fine.", "Honestly the whole evening was {adj}.",
]
# Phrasings that occur in no training template, for the demo's predictions on unseen reviews.
UNSEEN_TEMPLATES = [
    "Honestly the {a} at this place beats anything {place}.", "We came for the {a} and stayed for the {b}.",
    "Nothing special here, just okay {drink}.", "If you order one thing, make it the {a}.",
    "{Person} said the {a} tasted like home.", "Avoid the {a} unless you like it {adj}.",
]


def fill(rng: random.Random, template: str, a: str = "", b: str = "") -> str:
    """Fill dish slots {a}/{b} and filler slots; a capitalised slot name capitalises the value."""
    values = {name: rng.choice(words) for name, words in FILLERS.items()}
    values["adj2"] = rng.choice(FILLERS["adj"])
    values.update(a=a, b=b)
    values.update({k.capitalize(): v[:1].upper() + v[1:] for k, v in list(values.items())})
    return template.format(**values)


def sentence(rng: random.Random, dishes: list[str]) -> tuple[str, list[str]]:
    kind = rng.random()
    if kind < 0.25:
        return fill(rng, rng.choice(NO_DISH)), []
    if kind < 0.75:
        a = rng.choice(dishes)
        return fill(rng, rng.choice(ONE_DISH), a), [a]
    a, b = rng.sample(dishes, 2)
    return fill(rng, rng.choice(TWO_DISHES), a, b), [a, b]


def labelled_rows(rng: random.Random, dishes: list[str], n: int) -> list[tuple[str, str]]:
    rows = []
    for _ in range(n):
        text, found = sentence(rng, dishes)
        rows.extend((text, dish) for dish in found) if found else rows.append((text, ""))
    return rows


def write_csv(path: Path, rows: list[tuple[str, str]]) -> None:
    buf = io.StringIO()
    buf.write("review,dish_name\n")
    csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def main(argv=None) -> int:
    p = ScriptArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output-dir", default="data/sample")
    p.add_argument("--reviews", type=int, default=1500, help="reviews in the pretraining corpus")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    all_dishes = sorted(d for ds in DISHES.values() for d in ds)
    held_out = set(rng.sample(all_dishes, len(all_dishes) // 5))
    train_dishes = [d for d in all_dishes if d not in held_out]

    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    documents = ["\n".join(sentence(rng, all_dishes)[0] for _ in range(rng.randint(2, 5))) for _ in range(args.reviews)]
    (out / "reviews.txt").write_text("\n\n".join(documents) + "\n", encoding="utf-8")
    write_csv(out / "dish_train.csv", labelled_rows(rng, train_dishes, 600))
    write_csv(out / "dish_val.csv", labelled_rows(rng, sorted(held_out), 150))
    unseen = [fill(rng, t, *rng.sample(sorted(held_out), 2)) for t in UNSEEN_TEMPLATES]
    (out / "unseen_reviews.txt").write_text("\n".join(unseen) + "\n", encoding="utf-8")
    print(f"wrote {out}/reviews.txt ({args.reviews} reviews), dish_train.csv, dish_val.csv and unseen_reviews.txt "
          f"({len(held_out)} held-out dishes in val)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
