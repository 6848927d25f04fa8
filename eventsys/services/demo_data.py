"""The demo's content, taken from the seed documents (shared/seeds): the CISIP Forum of
7 December 2021 in Beijing and the Belt & Road Science Park Management Workshop of
August 2019 in Beijing and Nanning. Participants of the workshop are invented (names in
their own scripts, so certificates show several writing systems); everyone else is named
as the forum article names them.
"""

from __future__ import annotations

ORGANISATIONS = {
    # key: (name, short name, country)
    "gei": ("Great Wall Enterprise Institute", "GEI", "CN"),
    "castip": ("China ASEAN Science Technology and Innovation Policy Research Center",
               "CASTIP", "CN"),
    "cisip": ("Community of International Science-Industry Parks", "CISIP", "CN"),
    "stza": ("Special Technology Zones Authority", "STZA", "PK"),
    "nstp": ("National Science and Technology Park", "NSTP", "PK"),
    "hu_embassy": ("Embassy of Hungary in China", None, "HU"),
    "ssaned": ("South and Southeast Asia New Economy Development Research Institute", None, "CN"),
    "cfmee": ("CFMEE", None, "CN"),
    "geekplus": ("Geek+", None, "CN"),
    "moqi": ("MOQI Technology", None, "CN"),
    "aipark": ("AIPARK", None, "CN"),
    "waterdrop": ("Waterdrop", None, "CN"),
    "pku_park": ("PKU Science Park", None, "CN"),
    "th_council": ("Office of National Higher Education Science Research and Innovation "
                   "Policy Council", "NXPO", "TH"),
    "taguspark": ("Taguspark", None, "PT"),
    "india_china_ttc": ("India-China Technology Transfer Centre", None, "IN"),
    "zbra": ("Zhongguancun Belt and Road Industrial Promotion Association", "ZBRA", "CN"),
    "th_science_park": ("Thailand Science Park", None, "TH"),
    "bangkok_stp": ("Bangkok Science and Technology Park", None, "TH"),
    "stp_belgrade": ("Science Technology Park Belgrade", None, "RS"),
    "tbilisi_techpark": ("Tbilisi Tech Park", None, "GE"),
    "smart_village": ("Smart Village Egypt", None, "EG"),
    "porto_digital": ("Porto Digital", None, "BR"),
    "technopark_in": ("Technopark Thiruvananthapuram", None, "IN"),
    "bandung_tp": ("Bandung Techno Park", None, "ID"),
    "tpm": ("Technology Park Malaysia", "TPM", "MY"),
    "hu_innovation": ("Hungarian Science Park Association", None, "HU"),
    "nanning_hz": ("Nanning High-tech Industrial Development Zone", None, "CN"),
    "zpark": ("Zhongguancun Science Park", "Z-Park", "CN"),
}

# The forum's programme as the article tells it: (kind, title, [(role, person key)]).
FORUM_PEOPLE = {
    "wu_wensheng": ("Mr.", "Wu Wensheng", "吴文胜", "General Manager", "gei"),
    "wang_mingyang": ("Ms.", "Wang Mingyang", "王明阳", "Director of International Business",
                      "gei"),
    "amer_hashmi": ("Mr.", "Amer Ahmed Hashmi", "عامر احمد ہاشمی", "Chairman", "stza"),
    "balogh_andras": ("Mr.", "Balogh András Zoltán", None,
                      "First Secretary for Science and Technology", "hu_embassy"),
    "yang_yi": ("Mr.", "Yang Yi", "杨毅", "President", "ssaned"),
    "chen_dong": ("Dr.", "Chen Dong", "陈东", "Chief Scientist", "cfmee"),
    "bi_kong": ("Mr.", "Bi Kong", "毕孔", "Vice President", "geekplus"),
    "zhang_qingdi": ("Mr.", "Zhang Qingdi", "张庆迪",
                     "R&D Director, responsible for civil and overseas business", "moqi"),
    "xiang_yanping": ("Ms.", "Xiang Yanping", "向艳萍", "Senior Vice President", "aipark"),
    "li_jieru": ("Ms.", "Li Jieru", "李洁茹", "Director of Strategic Operations", "waterdrop"),
    "zhang_jizhe": ("Mr.", "Zhang Jizhe", "张继哲", "Forum host", "gei"),
    "song_qi": ("Mr.", "Song Qi", "宋琦", "Vice President", "pku_park"),
    "kanchana": ("Dr.", "Kanchana Wanichkorn", "กาญจนา วานิชกร", "Vice President",
                 "th_council"),
    "eduardo_correia": ("Dr.", "Eduardo Baptista Correia", None, "CEO", "taguspark"),
    "vijay_mishra": ("Mr.", "Vijay Kant Mishra", "विजय कांत मिश्रा", "Deputy Chairman",
                     "india_china_ttc"),
    "wang_delu": ("Mr.", "Wang Delu", "王德禄", "Chairman", "gei"),
}

# (start "HH:MM" Beijing time, minutes, kind, title, [(role, person)], mode)
FORUM_PROGRAMME = [
    ("09:00", 15, "opening", "Opening speech", [("speaker", "wu_wensheng")], "hybrid"),
    ("09:15", 20, "ceremony", "Release of the 2021 Report on the Development of B&R Science "
     "Parks", [("speaker", "wang_mingyang")], "hybrid"),
    ("09:35", 25, "keynote", "Pakistan's Knowledge Economy Strategy and the establishment of "
     "Special Technology Zones", [("speaker", "amer_hashmi")], "online"),
    ("10:00", 25, "keynote", "Digital economy enterprise cultivation in Hungary",
     [("speaker", "balogh_andras")], "hybrid"),
    ("10:25", 25, "keynote", "Meta-universe of international innovation ecology in the era of "
     "digital economy", [("speaker", "yang_yi")], "hybrid"),
    ("10:50", 15, "break", "Tea break", [], "in_person"),
    ("11:05", 12, "presentation", "CFMEE", [("speaker", "chen_dong")], "hybrid"),
    ("11:17", 12, "presentation", "Geek+", [("speaker", "bi_kong")], "hybrid"),
    ("11:29", 12, "presentation", "MOQI Technology", [("speaker", "zhang_qingdi")], "hybrid"),
    ("11:41", 12, "presentation", "AIPARK", [("speaker", "xiang_yanping")], "hybrid"),
    ("11:53", 12, "presentation", "Waterdrop", [("speaker", "li_jieru")], "hybrid"),
    ("14:00", 75, "roundtable", "Online roundtable: suggestions on international scientific "
     "and technological cooperation",
     [("moderator", "zhang_jizhe"), ("panellist", "song_qi"), ("panellist", "kanchana"),
      ("panellist", "eduardo_correia"), ("panellist", "vijay_mishra")], "online"),
    ("15:15", 20, "ceremony", "Closing summary", [("speaker", "wang_delu")], "hybrid"),
]

FORUM_DESCRIPTION = (
    "The annual forum of the Community of International Science-Industry Parks brings "
    "together science parks, technology enterprises and policy makers from countries along "
    "the Belt and Road, in the room in Beijing and online through live-stream platforms.\n\n"
    "The 2021 edition released the 2021 Report on the Development of B&R Science Parks. "
    "Keynotes came from Pakistan's Special Technology Zones Authority, the Hungarian Embassy "
    "in China and the South and Southeast Asia New Economy Development Research Institute; "
    "five Chinese digital-economy companies (CFMEE, Geek+, MOQI, AIPARK and Waterdrop) "
    "presented their work; an online roundtable with guests from PKU Science Park, Thailand, "
    "Portugal's Taguspark and India discussed international cooperation.\n\n"
    "More than 60 representatives and experts from over 10 countries attended in Beijing, "
    "and 379 people followed online."
)

WORKSHOP_DESCRIPTION = (
    "A training programme for managers of science and technology parks, held every year "
    "since 2013 and, from 2019, in association with CISIP. Participants apply and are "
    "selected; lectures on park development and management alternate with field trips to "
    "science parks and technology companies in Beijing and Nanning.\n\n"
    "In August 2019, 26 participants from 11 countries completed the theoretical studies "
    "and the field trips. Those who attend the programme receive a certificate of "
    "completion."
)

# Workshop participants (invented): (name in Latin script, native script, country, org key)
WORKSHOP_PARTICIPANTS = [
    ("Ayesha Siddiqui", "عائشہ صدیقی", "PK", "nstp"),
    ("Muhammad Bilal Khan", "محمد بلال خان", "PK", "stza"),
    ("Hamza Qureshi", "حمزہ قریشی", "PK", "nstp"),
    ("Siriporn Chaiyasit", "ศิริพร ชัยสิทธิ์", "TH", "th_science_park"),
    ("Nattapong Srisuk", "ณัฐพงษ์ ศรีสุข", "TH", "bangkok_stp"),
    ("Kanokwan Thongdee", "กนกวรรณ ทองดี", "TH", "th_science_park"),
    ("Kovács Eszter", None, "HU", "hu_innovation"),
    ("Szabó Gergely", None, "HU", "hu_innovation"),
    ("Milica Jovanović", "Милица Јовановић", "RS", "stp_belgrade"),
    ("Nikola Petrović", "Никола Петровић", "RS", "stp_belgrade"),
    ("Nino Beridze", "ნინო ბერიძე", "GE", "tbilisi_techpark"),
    ("Giorgi Kapanadze", "გიორგი კაპანაძე", "GE", "tbilisi_techpark"),
    ("Mona Abdelrahman", "منى عبد الرحمن", "EG", "smart_village"),
    ("Ahmed Farouk", "أحمد فاروق", "EG", "smart_village"),
    ("João Vitor Araújo", None, "BR", "porto_digital"),
    ("Luíza Gonçalves", None, "BR", "porto_digital"),
    ("Inês Conceição", None, "PT", "taguspark"),
    ("Tiago Simões", None, "PT", "taguspark"),
    ("Priya Raghavan", "प्रिया राघवन", "IN", "technopark_in"),
    ("Arjun Nair", "अर्जुन नायर", "IN", "technopark_in"),
    ("Rahul Mehta", "राहुल मेहता", "IN", "india_china_ttc"),
    ("Dewi Lestari", None, "ID", "bandung_tp"),
    ("Budi Santoso", None, "ID", "bandung_tp"),
    ("Nurul Aisyah binti Rahman", None, "MY", "tpm"),
    ("Tan Wei Ming", "陈伟明", "MY", "tpm"),
    ("Siti Hajar Ismail", None, "MY", "tpm"),
]

# (day offset, "HH:MM", minutes, kind, title, city)
WORKSHOP_PROGRAMME_2019 = [
    (0, "09:00", 60, "opening", "Opening ceremony and introductions", "Beijing"),
    (0, "10:30", 90, "lecture", "Science parks in China: forty years of development", "Beijing"),
    (1, "09:00", 90, "lecture", "Planning and governance of a science park", "Beijing"),
    (1, "14:00", 180, "field_trip", "Field trip: Zhongguancun Science Park", "Beijing"),
    (2, "09:00", 90, "lecture", "Incubators, accelerators and venture capital", "Beijing"),
    (2, "14:00", 180, "field_trip", "Field trip: technology companies in Haidian", "Beijing"),
    (3, "09:00", 90, "lecture", "Attracting high-tech enterprises and talent", "Beijing"),
    (4, "09:00", 90, "lecture", "Digital services for park management", "Beijing"),
    (7, "09:00", 90, "lecture", "China-ASEAN technology transfer", "Nanning"),
    (7, "14:00", 180, "field_trip", "Field trip: Nanning High-tech Zone", "Nanning"),
    (8, "09:00", 90, "lecture", "Cross-border cooperation between parks", "Nanning"),
    (9, "09:00", 90, "ceremony", "Closing ceremony and certificates", "Nanning"),
]

# Given and family names to make the forum's audience (2021: about 60 in the room from
# 10+ countries, 379 online). Invented; deterministic so seeding twice gives the same people.
AUDIENCE_NAMES = {
    "CN": (["Wei", "Fang", "Jun", "Li", "Min", "Hao", "Yan", "Lei"],
           ["Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang"]),
    "TH": (["Somchai", "Nok", "Anan", "Ploy"], ["Suksawat", "Chaiyaporn", "Wongsa", "Kittisak"]),
    "MY": (["Aisyah", "Hafiz", "Mei Ling", "Ravi"], ["Abdullah", "Tan", "Lim", "Kumar"]),
    "ID": (["Putri", "Agus", "Rina", "Bayu"], ["Wijaya", "Saputra", "Hidayat", "Pratama"]),
    "RS": (["Marko", "Jelena", "Stefan", "Ana"], ["Nikolić", "Marković", "Ilić", "Đorđević"]),
    "PK": (["Usman", "Sana", "Bilal", "Hira"], ["Ahmed", "Malik", "Raza", "Iqbal"]),
    "HU": (["Péter", "Katalin", "Balázs", "Zsófia"], ["Nagy", "Tóth", "Horváth", "Varga"]),
    "GE": (["Levan", "Tamar", "Davit", "Mariam"],
           ["Gelashvili", "Lomidze", "Tsiklauri", "Kvaratskhelia"]),
    "BR": (["Lucas", "Mariana", "Rafael", "Beatriz"], ["Silva", "Souza", "Oliveira", "Pereira"]),
    "EG": (["Omar", "Nour", "Karim", "Yasmin"], ["Hassan", "Mahmoud", "Ibrahim", "Mostafa"]),
}

WORKSHOP_QUESTIONS = [
    # kind, label, required, choices
    ("organisation", "Your science park or institution", True, None),
    ("long_text", "What would you like to learn in the workshop?", True, None),
    ("multiple_choice", "Field trips you would like to join", False,
     ["Zhongguancun Science Park (Beijing)", "Nanning High-tech Zone"]),
    ("single_choice", "Dietary needs", True, ["None", "Halal", "Vegetarian", "Other"]),
    ("checkbox", "I can attend the whole programme, in Beijing and in Nanning", True, None),
]

FORUM_QUESTIONS = [
    ("single_choice", "Which part interests you most?", False,
     ["Keynotes", "Company presentations", "Roundtable", "Report release"]),
]

# Lecturers of the workshop (invented), for its lectures: (honorific, name, native, job
# title, organisation key, short bio).
WORKSHOP_LECTURERS = {
    "zhao_hui": ("Prof.", "Zhao Hui", "赵辉", "Professor of Innovation Management",
                 "castip", "Has advised science parks across China on planning and governance "
                 "since 2001."),
    "liu_yang": ("Dr.", "Liu Yang", "刘洋", "Director, Incubation Services", "zpark",
                 "Runs incubation and venture programmes at Zhongguancun Science Park."),
    "huang_min": ("Ms.", "Huang Min", "黄敏", "Head of Digital Services", "gei",
                  "Leads GEI's work on digital platforms for park management."),
    "nong_jian": ("Mr.", "Nong Jian", "农健", "Deputy Director", "nanning_hz",
                  "Works on China-ASEAN technology transfer in Nanning."),
}
# Which lecturer gives which lecture of WORKSHOP_PROGRAMME_2019, by title; field trips are
# led by a host (moderator), ceremonies have a speaker.
WORKSHOP_ROLES = {
    "Opening ceremony and introductions": [("speaker", "zhao_hui")],
    "Science parks in China: forty years of development": [("speaker", "zhao_hui")],
    "Planning and governance of a science park": [("speaker", "zhao_hui")],
    "Field trip: Zhongguancun Science Park": [("moderator", "liu_yang")],
    "Incubators, accelerators and venture capital": [("speaker", "liu_yang")],
    "Field trip: technology companies in Haidian": [("moderator", "liu_yang")],
    "Attracting high-tech enterprises and talent": [("speaker", "liu_yang"),
                                                    ("discussant", "zhao_hui")],
    "Digital services for park management": [("speaker", "huang_min")],
    "China-ASEAN technology transfer": [("speaker", "nong_jian")],
    "Field trip: Nanning High-tech Zone": [("moderator", "nong_jian")],
    "Cross-border cooperation between parks": [("speaker", "nong_jian"),
                                               ("discussant", "huang_min")],
    "Closing ceremony and certificates": [("speaker", "zhao_hui")],
}
FORUM_STREAM = "https://live.example.org/cisip-forum"
