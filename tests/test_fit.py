"""Fitting result images to Discord's upload limits, and how the notes name those limits."""

from __future__ import annotations

import pickle

import pytest
from PIL import Image

from bot.errors import ImageInputError
from bot.images.codec import megabytes
from bot.images.processing import Fitted, fit_for_upload
from bot.images.types import GeneratedImage
from tests.test_processing import MB, RED, decoded, encode, noise


def generated(image: Image.Image, fmt: str = "PNG") -> GeneratedImage:
    data = encode(image, fmt)
    return GeneratedImage(data, fmt.lower(), image.width, image.height, revised_prompt="a cat")  # type: ignore[arg-type]


def test_images_that_fit_are_untouched() -> None:
    images = [generated(Image.new("RGB", (64, 64), RED)), generated(noise((128, 128)))]
    fitted = fit_for_upload(images, 10 * MB)
    assert fitted == Fitted(tuple(images), ())
    assert fitted.images[1].data is images[1].data


def test_image_over_the_limit_is_reencoded_smaller_with_a_note() -> None:
    small = generated(Image.new("RGB", (64, 64), RED))
    big = generated(noise((1024, 1024)))
    assert len(big.data) > 2 * MB
    fitted = fit_for_upload([small, big], 2 * MB)
    assert fitted.images[0] is small
    shrunk = fitted.images[1]
    assert len(shrunk.data) <= 2 * MB and shrunk.format == "webp"
    assert decoded(shrunk.data).size == (shrunk.width, shrunk.height)
    assert shrunk.revised_prompt == "a cat"
    (note,) = map(str, fitted.notes)
    assert note.startswith("Sent image 2 as WEBP (quality ") and note.endswith(
        "to fit Discord's 2 MB limit."
    )
    assert pickle.loads(pickle.dumps(fitted)) == fitted


def test_transparent_image_keeps_its_alpha_when_shrunk() -> None:
    image = noise((512, 512), "RGBA")
    fitted = fit_for_upload([generated(image)], 300 * 1024)
    (result,) = fitted.images
    assert result.format == "webp" and decoded(result.data).mode == "RGBA"
    assert len(result.data) <= 300 * 1024


def test_message_total_is_shared_out_leaving_small_images_alone() -> None:
    small = generated(Image.new("RGB", (64, 64), RED))
    big = [generated(noise((700, 700))) for _ in range(2)]
    fitted = fit_for_upload([small, *big], 10 * MB, total_limit=2 * MB)
    assert fitted.images[0] is small
    assert sum(len(image.data) for image in fitted.images) <= 2 * MB
    assert all("Discord's 2 MB limit per message" in str(note) for note in fitted.notes)
    assert len(fitted.notes) == 2


def test_image_that_cannot_fit_even_small_is_refused() -> None:
    with pytest.raises(ImageInputError, match="Image 1 is too large to send here"):
        fit_for_upload([generated(noise((600, 600)))], 200)


def test_notes_and_refusals_read_in_the_members_language() -> None:
    big = generated(noise((1024, 1024)))
    (note,) = fit_for_upload([big], 2 * MB).notes
    russian = note.render("ru")
    assert russian.startswith("Изображение 1 отправлено как WEBP (качество ")
    assert russian.endswith("чтобы уложиться в лимит Discord 2 МБ.")  # the unit is theirs too
    assert note.render("ja").startswith(
        f"Discord の上限 {megabytes(2 * MB).render('ja')} に収まるよう、画像 1 を"
    )
    with pytest.raises(ImageInputError) as refused:
        fit_for_upload([generated(noise((600, 600)))], 200)
    assert refused.value.render("de") == (
        "Bild 1 ist selbst verkleinert zu groß, um es hier zu senden; versuch es mit weniger Bildern."
    )


def test_an_image_that_cannot_be_read_is_refused_naming_it() -> None:
    broken = GeneratedImage(b"\x89PNG\r\n\x1a\n broken", "png", 64, 64)
    with pytest.raises(ImageInputError) as refused:
        fit_for_upload([broken], 10)
    assert str(refused.value) == ("I couldn't read image 1 to make it smaller, so I can't send it.")
    assert refused.value.render("fr") == (
        "Je n'ai pas pu lire l'image 1 pour la réduire, donc je ne peux pas l'envoyer."
    )


def test_after_a_refusal_the_guessed_total_is_never_named() -> None:
    """Discord refused the upload; half of what was refused is a guess, not Discord's limit."""
    images = [generated(noise((300, 300))) for _ in range(2)]
    refused_total = sum(len(image.data) for image in images)
    fitted = fit_for_upload(images, 10 * MB, total_limit=refused_total // 2, total_known=False)
    assert sum(len(image.data) for image in fitted.images) <= refused_total // 2
    assert len(fitted.notes) == 2
    for index, note in enumerate(map(str, fitted.notes), start=1):
        assert note.startswith(
            f"Discord refused the images as too large, so I sent image {index} as WEBP"
        )
        assert "limit" not in note and " MB" not in note


def test_after_a_refusal_an_image_over_the_per_file_limit_names_that_limit() -> None:
    big = generated(noise((1024, 1024)))
    fitted = fit_for_upload([big], 2 * MB, total_limit=8 * MB, total_known=False)
    (note,) = map(str, fitted.notes)
    assert note.endswith("to fit Discord's 2 MB limit.")


@pytest.mark.parametrize(
    ("size", "round_up", "shown"),
    [
        (0, False, "0 bytes"),
        (300, False, "300 bytes"),
        (300, True, "300 bytes"),
        (40 * 1024, False, "40 KB"),
        (40 * 1024 + 1, True, "41 KB"),
        (60 * 1024, False, "60 KB"),
        (MB // 10 + 1, True, "0.2 MB"),
        (25 * MB, False, "25 MB"),
        (int(31.21 * MB), True, "31.3 MB"),
    ],
)
def test_megabytes_never_says_zero_megabytes(size: int, round_up: bool, shown: str) -> None:
    assert str(megabytes(size, round_up=round_up)) == shown
