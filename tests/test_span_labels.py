import pytest

from datamodules.common.errors import UserInputError
from datamodules.tagging.bio import label_names_for
from datamodules.tagging.span_labels import find_occurrences, read_corpus, read_examples


def write_csv(tmp_path, rows, header="review,dish_name"):
    path = tmp_path / "d.csv"
    body = "".join(f'"{r}","{d}"\n' for r, d in rows)
    path.write_text(f"{header}\n{body}", encoding="utf-8")
    return str(path)


def dishes(example):
    return [example.text[s.start:s.end] for s in example.spans]


def test_csv_rows_merge_and_every_occurrence_is_found(tmp_path):
    rows = [
        ("Chicken rice! I love chicken rice, and the mala steamboat.", "chicken rice"),
        ("Chicken rice! I love chicken rice, and the mala steamboat.", "mala steamboat"),
        ("(Laksa) was spicy", "laksa"),
        ("The service was slow.", ""),
    ]
    examples = read_examples(write_csv(tmp_path, rows))
    assert len(examples) == 3
    assert dishes(examples[0]) == ["Chicken rice", "chicken rice", "mala steamboat"]  # start, middle, casing
    assert dishes(examples[1]) == ["Laksa"]  # punctuation next to the dish stays outside
    assert examples[2].spans == []


def test_word_boundaries_and_nested_dishes(tmp_path):
    assert find_occurrences("ricecakes and rice", "rice") == [(14, 18)]
    assert find_occurrences("the rice.", "RICE") == [(4, 8)]
    rows = [("The chicken rice and the chicken wings", "chicken"),
            ("The chicken rice and the chicken wings", "chicken rice")]
    (example,) = read_examples(write_csv(tmp_path, rows))
    assert dishes(example) == ["chicken rice", "chicken"]  # the longer span wins where they overlap


def test_absent_dish_and_empty_review_are_reported_not_mislabelled(tmp_path):
    rows = [("I like the laksa", "laksa"), ("I like the laksa", "pizza"), ("", "pizza"),
            ("Great satay here", "satay"), ("Bad soup", "noodles")]
    with pytest.warns(UserWarning) as record:
        examples = read_examples(write_csv(tmp_path, rows))
    messages = [str(w.message) for w in record]
    assert any("2 dish name(s) not found in their review, so 2 review(s) were skipped (lines 3, 6)" in m
               for m in messages), messages
    assert any("skipped 1 row(s) with an empty review (lines 4)" in m for m in messages), messages
    assert [e.text for e in examples] == ["Great satay here"]


def test_csv_without_the_columns(tmp_path):
    path = write_csv(tmp_path, [("a", "b")], header="text,label")
    with pytest.raises(UserInputError,
                       match=r"d.csv: expected CSV columns 'review' and 'dish_name', found \['text', 'label'\]"):
        read_examples(path)


def test_seed_and_nyt_csvs(shared_data):
    seed = read_examples(str(shared_data / "seed_toy" / "dish_name_train.csv"))
    assert [dishes(e) for e in seed] == [["mala steamboat"], ["chicken rice"]]
    nyt = read_examples(str(shared_data / "nyt_dish" / "test.csv"))
    assert len(nyt) == 338 and sum(len(e.spans) for e in nyt) >= 478


def test_bio_reading_types_and_filter(tmp_path):
    path = tmp_path / "x.bio"
    path.write_text("best\tO\nchicken\tB-Dish\nrice\tI-Dish\nin\tO\nchinatown\tB-Location\n\n"
                    "cheap\tB-Price\nnoodles\tI-Dish\n\n", encoding="utf-8")
    a, b = read_examples(str(path))
    assert a.text == "best chicken rice in chinatown"
    assert [(a.text[s.start:s.end], s.type) for s in a.spans] == [("chicken rice", "Dish"), ("chinatown", "Location")]
    assert [(b.text[s.start:s.end], s.type) for s in b.spans] == [("cheap", "Price"), ("noodles", "Dish")]
    only = read_examples(str(path), entity_types=["dish"])
    assert [s.type for s in only[0].spans + only[1].spans] == ["Dish", "Dish"]


def test_mit_restaurant_bio_types(shared_data):
    mit = read_examples(str(shared_data / "mit_restaurant" / "test.bio"))
    types = {s.type for e in mit for s in e.spans}
    assert len(mit) == 1521 and len(types) == 8
    assert label_names_for(types)[:3] == ["O", "B-Amenity", "I-Amenity"]


def test_malformed_bio_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.bio"
    path.write_text("good\tO\nbad line without tab\n", encoding="utf-8")
    with pytest.raises(UserInputError, match=r"bad.bio:2: expected 'token<TAB>label'"):
        read_examples(str(path))
    path.write_text("good\tX-Dish\n", encoding="utf-8")
    with pytest.raises(UserInputError, match=r"bad.bio:1: "):
        read_examples(str(path))


def test_missing_and_empty_inputs(tmp_path):
    with pytest.raises(UserInputError, match="does not exist"):
        read_examples(str(tmp_path / "none.csv"))
    empty = tmp_path / "empty.csv"
    empty.write_text("review,dish_name\n")
    with pytest.raises(UserInputError, match="no examples"):
        read_examples(str(empty))


def test_label_map_renames_types_across_files_and_keeps_negatives(tmp_path):
    menu = tmp_path / "menu.bio"
    menu.write_text("the\tO\nbutter\tB-MENU\nchicken\tI-MENU\n\nnice\tO\nview\tO\n\n", encoding="utf-8")
    mit = tmp_path / "mit.bio"
    mit.write_text("cheap\tB-Price\nramen\tB-Dish\nnearby\tB-Location\n\n", encoding="utf-8")
    csv_path = write_csv(tmp_path, [("The laksa was great", "laksa")])
    by_file = read_corpus([str(menu), str(mit), csv_path, str(menu)], entity_types=["Dish"],
                          label_map={"menu": "Dish", "DISH": "Dish"})
    assert list(by_file) == [str(menu), str(mit), csv_path]  # a file named twice is read once
    assert [[(e.text[s.start:s.end], s.type) for s in e.spans] for e in by_file[str(menu)]] == [
        [("butter chicken", "Dish")], []]  # the sentence without a dish stays, as a negative
    assert [(s.type, s.start) for s in by_file[str(mit)][0].spans] == [("Dish", 6)]  # Price, Location dropped
    kept_all = read_examples(str(mit), label_map={"Dish": "Food"})  # no entity_types: other types stay
    assert [s.type for s in kept_all[0].spans] == ["Price", "Food", "Location"]
    with pytest.raises(UserInputError, match=r"label_map: type\(s\) \['MENUU'\] occur in none of .*menu.bio"):
        read_corpus([str(menu), str(mit)], label_map={"MENUU": "Dish"})
    with pytest.raises(UserInputError, match="data.label_map: 'MENU' maps to 'Main dish', expected a type name"):
        read_corpus([str(menu)], label_map={"MENU": "Main dish"})


def test_a_byte_order_mark_is_not_text(tmp_path):
    csv_path = tmp_path / "bom.csv"
    csv_path.write_bytes('\ufeffreview,dish_name\n"Laksa here","laksa"\n'.encode("utf-8"))
    bio_path = tmp_path / "bom.txt"  # BIO recognised by content, BOM and all
    bio_path.write_bytes("\ufeffLaksa\tB-Dish\nhere\tO\n\n".encode("utf-8"))
    for path in (csv_path, bio_path):
        (example,) = read_examples(str(path))
        assert example.text == "Laksa here" and [(s.start, s.end) for s in example.spans] == [(0, 5)]
