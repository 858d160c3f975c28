"""智能粘贴: the shapes merchants paste from buyers' chats and platform exports, split into
a receiver's fields with the division list; odd input never raises."""

from __future__ import annotations

import pytest

from shops.services.receiver_paste import FIELDS, receiver_parse

ZHANG = {
    "name": "张三",
    "phone": "13812345678",
    "province": "浙江省",
    "city": "杭州市",
    "district": "西湖区",
    "detail": "文三路90号",
    "postcode": "",
}


def fields(result: dict) -> dict:
    return {f: result[f] for f in FIELDS}


@pytest.mark.parametrize(
    "text",
    [
        "张三 13812345678 浙江省杭州市西湖区文三路90号",
        "张三，13812345678，浙江省 杭州市 西湖区 文三路90号",  # full-width commas, spaces
        "张三;13812345678;浙江省杭州市西湖区;文三路90号",
        "13812345678 张三 浙江杭州西湖区文三路90号",  # phone first, short names
        "浙江省杭州市西湖区文三路90号 张三 13812345678",  # address first, name after it
        "张三\n138 1234 5678\n浙江省杭州市西湖区文三路90号",  # lines, spaced mobile
        "张三 +86-138-1234-5678 杭州市西湖区文三路90号",  # no province, +86, dashes
        "张三13812345678浙江省杭州市西湖区文三路90号",  # all glued
        "张三 13812345678 浙江省 杭州市 西湖区 浙江省杭州市西湖区文三路90号",  # region twice
        "张三 １３８１２３４５６７８ 浙江省杭州市西湖区文三路９０号",  # full-width digits
    ],
)
def test_the_common_shapes_give_the_same_receiver(text):
    result = receiver_parse(text)
    assert fields(result) == ZHANG
    assert (result["missing"], result["unparsed"]) == ([], [])


def test_platform_export_labels_municipality_and_postcode():
    result = receiver_parse(
        "收货人: 李四 手机号码: 139-0000-1111 所在地区: 北京市 北京市 朝阳区 "
        "详细地址: 建国路88号 邮编: 100022"
    )
    assert fields(result) == {
        "name": "李四",
        "phone": "13900001111",
        "province": "北京市",
        "city": "北京市",
        "district": "朝阳区",
        "detail": "建国路88号",
        "postcode": "100022",
    }


def test_landline_semicolons_and_a_municipality_written_once():
    result = receiver_parse("王五；021-62345678；上海浦东新区世纪大道100号；200120")
    assert fields(result) == {
        "name": "王五",
        "phone": "02162345678",
        "province": "上海市",
        "city": "上海市",
        "district": "浦东新区",
        "detail": "世纪大道100号",
        "postcode": "200120",
    }


@pytest.mark.parametrize(
    ("text", "province", "city", "district", "detail"),
    [
        # the city omitted: 余杭区 is one district of 浙江省
        ("吴十 13500005555 浙江省余杭区文一西路1号", "浙江省", "杭州市", "余杭区", "文一西路1号"),
        # an autonomous region by its short name, the city without 市
        (
            "郑一 13500005555 新疆乌鲁木齐天山区解放南路1号",
            "新疆维吾尔自治区",
            "乌鲁木齐市",
            "天山区",
            "解放南路1号",
        ),
        # a city without districts, and a county-level city directly under the province
        (
            "赵六 18900001111 广东省东莞市南城街道鸿福路1号",
            "广东省",
            "东莞市",
            "",
            "南城街道鸿福路1号",
        ),
        ("钱七 15800002222 湖北省仙桃市干河街道1号", "湖北省", "仙桃市", "", "干河街道1号"),
        ("孙八 13700003333 重庆市渝中区解放碑1号", "重庆市", "重庆市", "渝中区", "解放碑1号"),
        # 南京 is not 海南 + 京: the name glued to the city is found by the division list
        ("李海南京市鼓楼区中山路1号 13500005555", "江苏省", "南京市", "鼓楼区", "中山路1号"),
    ],
)
def test_regions_completed_from_the_division_list(text, province, city, district, detail):
    result = receiver_parse(text)
    assert (result["province"], result["city"], result["district"], result["detail"]) == (
        province,
        city,
        district,
        detail,
    )
    assert result["missing"] == []  # 东莞市 and 仙桃市 have no districts to miss


def test_an_ambiguous_district_is_left_to_the_user():
    """朝阳区 is in 北京 and in 长春; 西湖大道 is a street, not 西湖区."""
    result = receiver_parse("张三 13812345678 朝阳区建国路88号")
    assert (result["name"], result["phone"]) == ("张三", "13812345678")
    assert (result["province"], result["city"], result["district"]) == ("", "", "")
    assert result["detail"] == "朝阳区建国路88号"
    assert result["missing"] == ["province", "city", "district"]

    street = receiver_parse("张三 13812345678 杭州市西湖大道1号")
    assert (street["province"], street["city"], street["district"], street["detail"]) == (
        "浙江省",
        "杭州市",
        "",
        "西湖大道1号",
    )
    assert street["missing"] == ["district"]


def test_what_fits_no_field_is_reported():
    result = receiver_parse("张三 13812345678 13900001111 浙江省杭州市西湖区文三路90号")
    assert result["phone"] == "13812345678"
    assert result["unparsed"] == ["13900001111"]
    assert result["detail"] == "文三路90号"


@pytest.mark.parametrize(
    "odd",
    [None, "", "   ", 12345, "😀😀 ### ,,,;;;", "\x00\x1b[31m", "省" * 5000, ["a"], "1" * 40],
)
def test_odd_input_never_raises_and_lists_what_is_missing(odd):
    result = receiver_parse(odd)
    assert set(FIELDS) <= set(result)
    assert all(isinstance(result[f], str) for f in FIELDS)
    assert "name" in result["missing"] and "province" in result["missing"]
    assert len(result["detail"]) <= 200


def test_only_a_phone():
    result = receiver_parse("13812345678")
    assert result["phone"] == "13812345678"
    assert result["missing"] == ["name", "province", "city", "district", "detail"]
