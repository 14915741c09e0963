/*
 * gen_relics.c: writes N relic documents as JSON Lines for the catalog benchmark
 * (bench/catalog_bench.sh). Deterministic (a fixed-seed xorshift), fast (a million lines in a
 * few seconds), and shaped like a museum's painting catalogue: Chinese and English titles
 * built from a few hundred words, a few hundred artists with pinyin names, dynasties with
 * years inside them, object types, subjects, media, inscriptions, seals and descriptions.
 * Usage: gen_relics N > relics.jsonl
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

typedef struct {
    const char *zh, *py, *en;
} word_t;

static const word_t places[] = {
    {"溪山", "Xishan", "Streams and Mountains"}, {"秋山", "Qiushan", "Autumn Mountains"},
    {"春江", "Chunjiang", "Spring River"},       {"松风", "Songfeng", "Wind in the Pines"},
    {"渔村", "Yucun", "Fishing Village"},        {"雪景", "Xuejing", "Snow Scene"},
    {"江山", "Jiangshan", "Rivers and Mountains"}, {"云山", "Yunshan", "Cloudy Mountains"},
    {"竹林", "Zhulin", "Bamboo Grove"},          {"桃源", "Taoyuan", "Peach Blossom Spring"},
    {"寒林", "Hanlin", "Wintry Forest"},         {"烟雨", "Yanyu", "Mist and Rain"},
    {"荷塘", "Hetang", "Lotus Pond"},            {"梅花", "Meihua", "Plum Blossoms"},
    {"芦雁", "Luyan", "Geese and Reeds"},        {"高士", "Gaoshi", "Lofty Scholar"},
    {"仕女", "Shinü", "Court Ladies"},           {"骏马", "Junma", "Fine Horses"},
    {"蝴蝶", "Hudie", "Butterflies"},            {"楼阁", "Louge", "Pavilions"},
    {"清明", "Qingming", "Qingming Festival"},   {"赤壁", "Chibi", "Red Cliff"},
    {"西湖", "Xihu", "West Lake"},               {"富春", "Fuchun", "Fuchun"},
    {"万壑", "Wanhe", "Ten Thousand Ravines"},   {"层峦", "Cengluan", "Layered Peaks"},
};
static const word_t acts[] = {
    {"行旅", "xinglü", "Travellers among"}, {"隐居", "yinju", "Dwelling in"},
    {"垂钓", "chuidiao", "Fishing in"},     {"访友", "fangyou", "Visiting a Friend in"},
    {"读书", "dushu", "Reading in"},        {"听泉", "tingquan", "Listening to a Spring in"},
    {"归棹", "guizhao", "Returning Boats at"}, {"晓行", "xiaoxing", "Dawn Journey in"},
    {"秋色", "qiuse", "Autumn Colours of"}, {"图", "tu", "Picture of"},
};
static const char *const forms_zh[] = {"图", "图卷", "图轴", "册", "扇页"};
static const char *const surnames[][2] = {
    {"张", "Zhang"}, {"王", "Wang"}, {"李", "Li"},   {"赵", "Zhao"}, {"刘", "Liu"},
    {"陈", "Chen"},  {"黄", "Huang"}, {"吴", "Wu"},  {"周", "Zhou"}, {"徐", "Xu"},
    {"孙", "Sun"},   {"马", "Ma"},   {"朱", "Zhu"},  {"胡", "Hu"},   {"郭", "Guo"},
    {"何", "He"},    {"沈", "Shen"}, {"文", "Wen"},  {"董", "Dong"}, {"倪", "Ni"},
};
static const char *const given[][2] = {
    {"择端", "Zeduan"}, {"希孟", "Ximeng"}, {"公望", "Gongwang"}, {"孟頫", "Mengfu"},
    {"宽", "Kuan"},     {"熙", "Xi"},       {"瓒", "Zan"},        {"徵明", "Zhengming"},
    {"其昌", "Qichang"}, {"翚", "Hui"},     {"原祁", "Yuanqi"},   {"石", "Shi"},
    {"寅", "Yin"},      {"英", "Ying"},     {"道子", "Daozi"},    {"思训", "Sixun"},
};
static const struct {
    const char *key;
    int from, to;
} dyn[] = {{"tang", 618, 907},   {"five_dynasties", 907, 979}, {"northern_song", 960, 1127},
           {"southern_song", 1127, 1279}, {"yuan", 1271, 1368}, {"ming", 1368, 1644},
           {"qing", 1644, 1912}, {"republic", 1912, 1949}};
static const char *const types[] = {"handscroll", "hanging_scroll", "album_leaf", "fan",
                                    "calligraphy"};
static const char *const subjects[] = {"landscape", "bird_and_flower", "figure", "animals",
                                       "architecture", "religious"};
static const char *const media[][2] = {{"绢本设色", "ink and colour on silk"},
                                       {"纸本水墨", "ink on paper"},
                                       {"绢本水墨", "ink on silk"},
                                       {"纸本设色", "ink and colour on paper"},
                                       {"金笺设色", "ink and colour on gold paper"}};

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;
    static char line[8192];
    for (long i = 0; i < n; i++) {
        const word_t *p = &places[rnd(sizeof(places) / sizeof(places[0]))];
        const word_t *a = &acts[rnd(sizeof(acts) / sizeof(acts[0]))];
        const char *form = forms_zh[rnd(5)];
        unsigned ci = rnd(320); /* 320 artists: surname x given name */
        const char *const *sn = surnames[ci % 20], *const *gn = given[ci / 20];
        unsigned di = rnd(8);
        int y0 = dyn[di].from + (int)rnd((unsigned)(dyn[di].to - dyn[di].from));
        int y1 = y0 + (int)rnd(30);
        const char *const *m = media[rnd(5)];
        unsigned s1 = rnd(6), s2 = rnd(6);
        int has_years = rnd(10) < 8;
        char years[64] = "";
        if (has_years)
            snprintf(years, sizeof(years), ",\"year_from\":%d,\"year_to\":%d", y0, y1);
        char subj[80];
        if (s1 == s2)
            snprintf(subj, sizeof(subj), "[\"%s\"]", subjects[s1]);
        else
            snprintf(subj, sizeof(subj), "[\"%s\",\"%s\"]", subjects[s1], subjects[s2]);
        int len = snprintf(
            line, sizeof(line),
            "{\"accession\":\"BENCH-%07ld\",\"title\":{\"zh\":\"%s%s%s\",\"en\":\"%s %s\","
            "\"pinyin\":\"%s %s\"},\"creators\":[{\"name\":{\"zh\":\"%s%s\",\"en\":\"%s %s\"},"
            "\"role\":\"artist\"}],\"dynasty\":\"%s\",\"date_text\":\"%d\"%s,"
            "\"object_type\":\"%s\",\"subject\":%s,\"medium\":{\"zh\":\"%s\",\"en\":\"%s\"},"
            "\"dimensions_cm\":{\"height\":%d.%d,\"width\":%d.%d},"
            "\"seals\":[{\"reading\":\"%s%s之印\",\"owner\":\"%s %s\"}],"
            "\"description\":{\"zh\":\"%s%s所作%s，%s%s，笔墨精妙。\",\"en\":\"%s %s by %s %s, "
            "%s; a work of the %s period.\"},\"restricted\":%s}\n",
            i, p->zh, a->zh, form, a->en, p->en, p->py, a->py, sn[0], gn[0], sn[1], gn[1],
            dyn[di].key, y0, years, types[rnd(5)], subj, m[0], m[1], 20 + (int)rnd(200),
            (int)rnd(10), 20 + (int)rnd(900), (int)rnd(10), sn[0], gn[0], sn[1], gn[1], sn[0],
            gn[0], p->zh, m[0], form, a->en, p->en, sn[1], gn[1], m[1], dyn[di].key,
            rnd(50) == 0 ? "true" : "false");
        fwrite(line, 1, (size_t)len, stdout);
    }
    return 0;
}
