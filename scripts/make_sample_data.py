#!/usr/bin/env python
"""Generate the bundled demo data: a small restaurant-review corpus and labelled dish-name CSVs.

Everything is made from templates and dish lists in this file with a fixed seed, so the sample is
the project's own and reproducible. Writes, under --output-dir (default data/sample):
  reviews.txt                 pretraining corpus: one sentence per line, a blank line between reviews
  dish_train.csv, dish_val.csv   seed format ``review,dish_name`` (one row per dish; no-dish reviews
                              have an empty dish_name); val uses dishes that never occur in train
"""
import argparse
import csv
import io
import random
from pathlib import Path

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
ONE_DISH = [
    "I like the {a} a lot!", "The {a} doesn't taste nice.", "Their {a} is the best in town.",
    "We ordered the {a} and it was cold.", "Try the {a}, you will not regret it.",
    "The {a} was a bit too salty for me.", "Honestly, the {a} here is overrated.",
    "My kids loved the {a}.", "{A} is what keeps me coming back.", "The portion of {a} was tiny for the price.",
    "I would come back just for the {a}.", "Skip the {a}; it was bland and dry.",
    "The waiter recommended the {a} and he was right.", "Best {a} I have had in years!",
    "Their signature {a} arrived in ten minutes.", "We shared a plate of {a} (great value).",
]
TWO_DISHES = [
    "The {a} was great but the {b} was disappointing.", "We had {a} and {b}, both excellent.",
    "Get the {a}, skip the {b}.", "The {a} came out fast; the {b} took forever.",
    "I ordered the {a} while my friend had the {b}.", "Their {a} pairs well with the {b}.",
    "Between the {a} and the {b}, I prefer the {b}.",
]
NO_DISH = [
    "The service was friendly and quick.", "Parking is hard to find on weekends.",
    "The place was packed, so book a table.", "Prices are reasonable for the area.",
    "The music was too loud to talk.", "Staff were rude and the wait was long.",
    "Clean tables and a cosy atmosphere.", "We will definitely come back next month.",
    "It is a great spot for a family dinner.", "The decor feels a little dated.",
    "Our server forgot our drinks twice.", "Open late, which is rare around here.",
]


def sentence(rng: random.Random, dishes: list[str]) -> tuple[str, list[str]]:
    kind = rng.random()
    if kind < 0.25:
        return rng.choice(NO_DISH), []
    if kind < 0.75:
        a = rng.choice(dishes)
        return rng.choice(ONE_DISH).format(a=a, A=a.capitalize()), [a]
    a, b = rng.sample(dishes, 2)
    return rng.choice(TWO_DISHES).format(a=a, b=b), [a, b]


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
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    print(f"wrote {out}/reviews.txt ({args.reviews} reviews), dish_train.csv and dish_val.csv "
          f"({len(held_out)} held-out dishes in val)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
