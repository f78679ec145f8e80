use super::*;

fn path(p: &str) -> LessonPath {
    LessonPath::parse(p).expect("valid path")
}

fn paragraph(chars: usize) -> String {
    "word ".repeat(chars / 5)
}

fn kinds(analysis: &LessonAnalysis) -> Vec<ProblemKind> {
    analysis.problems.iter().map(|p| p.kind).collect()
}

#[test]
fn a_clean_lesson_has_no_problems_and_its_place_comes_from_the_path() {
    let md = format!(
        "---\ntitle: The Agent Loop\n---\n\n## Observe\n\n{}\n\n## Act\n\n{}\n",
        paragraph(400),
        paragraph(400)
    );
    let a = analyze(&path("01-Foundations/02-Agents/03-the-loop"), &md);
    assert_eq!(a.title, "The Agent Loop");
    assert!(a.problems.is_empty(), "{:?}", a.problems);
    assert_eq!(a.placement.part.as_deref(), Some("Foundations"));
    assert_eq!(a.placement.chapter.as_deref(), Some("Agents"));
    assert_eq!(a.placement.order, Some(3));
}

#[test]
fn sidebar_position_wins_and_broken_front_matter_is_reported() {
    let ok = analyze(
        &path("01-Foundations/02-Agents/03-the-loop"),
        "---\ntitle: T\nsidebar_position: 7\n---\n## A\n",
    );
    assert_eq!(ok.placement.order, Some(7));
    let broken = analyze(
        &path("01-Foundations/02-Agents/03-the-loop"),
        "---\ntitle: [unclosed\n---\n## A\n",
    );
    assert!(kinds(&broken).contains(&ProblemKind::FrontMatterInvalid));
    assert_eq!(
        broken.placement.order,
        Some(3),
        "the file's number still orders it"
    );
    let wrong = analyze(
        &path("a/b"),
        "---\ntitle: T\nsidebar_position: soon\n---\n## A\n",
    );
    assert!(kinds(&wrong).contains(&ProblemKind::FrontMatterInvalid));
}

#[test]
fn titles_sections_and_images_are_checked() {
    let untitled = analyze(&path("a/b"), &format!("## Only\n\n{}", paragraph(300)));
    assert!(kinds(&untitled).contains(&ProblemKind::MissingTitle));
    let empty = analyze(&path("a/b"), "---\ntitle: \"\"\n---\n## A\n");
    assert!(kinds(&empty).contains(&ProblemKind::EmptyTitle));
    let nothing = analyze(&path("a/b"), "---\ntitle: T\n---\n");
    assert!(kinds(&nothing).contains(&ProblemKind::NoSections));
    let md = format!(
        "# T\n\n## Short\n\ntiny\n\n## Long\n\n{}\n\n![](img/loop.png) ![a loop](img/ok.png)\n<img src=\"x.png\">\n```\n![](in-code.png)\n```\n",
        paragraph(5_000)
    );
    let a = analyze(&path("a/b"), &md);
    let k = kinds(&a);
    assert!(k.contains(&ProblemKind::SectionTooShort), "{k:?}");
    assert!(k.contains(&ProblemKind::SectionTooLong), "{k:?}");
    let images: Vec<&str> = a
        .problems
        .iter()
        .filter(|p| p.kind == ProblemKind::ImageWithoutAlt)
        .map(|p| p.detail.as_str())
        .collect();
    assert_eq!(images, ["img/loop.png", "<img>"]);
}

#[test]
fn links_resolve_against_the_lesson_folder_and_skip_everything_else() {
    let md = "See [the loop](./02-the-agent-loop.md), [tools](../03-Tools/01-intro.mdx#top),\n\
              [root](/01-Foundations/01-Intro/01-welcome), [web](https://example.org/x),\n\
              [here](#anchor), [mail](mailto:a@b.c), ![pic](./pic.png), [again](02-the-agent-loop)\n\
              ```\n[in code](./nope.md)\n```\n";
    let links = lesson_links(&path("01-Foundations/02-Agents/01-what-is-an-agent"), md);
    let links: Vec<&str> = links.iter().map(LessonPath::as_str).collect();
    assert_eq!(
        links,
        [
            "01-Foundations/02-Agents/02-the-agent-loop",
            "01-Foundations/03-Tools/01-intro",
            "01-Foundations/01-Intro/01-welcome",
        ]
    );
    assert!(lesson_links(&path("a/b"), "[up](../../../x)").is_empty());
}

#[test]
fn the_book_orders_lessons_links_them_and_reports_broken_links() {
    let lessons = vec![
        analyze(&path("02-Tools/01-Basics/01-intro"), "# Tools\n\n## A\n\nx"),
        analyze(
            &path("01-Foundations/02-Agents/02-loop"),
            "# Loop\n\nBack to [what](./01-what) and [gone](./09-missing).\n",
        ),
        analyze(&path("01-Foundations/02-Agents/01-what"), "# What\n"),
        analyze(&path("01-Foundations/01-Intro/01-welcome"), "# Welcome\n"),
    ];
    let book = assemble(lessons);
    let parts: Vec<&str> = book.parts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(parts, ["Foundations", "Tools"]);
    let chapters: Vec<&str> = book.parts[0]
        .chapters
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(chapters, ["Intro", "Agents"]);
    let agents = &book.parts[0].chapters[1].lessons;
    assert_eq!(agents[0].path.as_str(), "01-Foundations/02-Agents/01-what");
    assert_eq!(
        agents[0].previous.as_ref().map(LessonPath::as_str),
        Some("01-Foundations/01-Intro/01-welcome")
    );
    assert_eq!(
        agents[0]
            .linked_from
            .iter()
            .map(LessonPath::as_str)
            .collect::<Vec<_>>(),
        ["01-Foundations/02-Agents/02-loop"]
    );
    assert_eq!(
        agents[1].next.as_ref().map(LessonPath::as_str),
        Some("02-Tools/01-Basics/01-intro")
    );
    let broken: Vec<(&str, &str)> = book
        .report
        .iter()
        .flat_map(|(p, problems)| {
            problems
                .iter()
                .filter(|x| x.kind == ProblemKind::BrokenLink)
                .map(move |x| (p.as_str(), x.detail.as_str()))
        })
        .collect();
    assert_eq!(
        broken,
        [(
            "01-Foundations/02-Agents/02-loop",
            "01-Foundations/02-Agents/09-missing"
        )]
    );
}

#[test]
fn files_of_the_book_map_to_lesson_paths() {
    let of = |f: &str| lesson_path_of_file(f).map(|p| p.as_str().to_string());
    assert_eq!(of("01-A/02-b.md").as_deref(), Some("01-A/02-b"));
    assert_eq!(of("01-A/02-b.mdx").as_deref(), Some("01-A/02-b"));
    assert_eq!(of("01-A/index.md").as_deref(), Some("01-A"));
    assert_eq!(of("01-A/README.md").as_deref(), Some("01-A"));
    for not_a_lesson in [
        "01-A/img.png",
        "01-A/_partial.md",
        ".github/x.md",
        "01-A/b.txt",
    ] {
        assert_eq!(of(not_a_lesson), None, "{not_a_lesson}");
    }
}

#[test]
fn problem_kind_names_are_their_serde_names() {
    use ProblemKind::*;
    for kind in [
        MissingTitle,
        EmptyTitle,
        NoSections,
        SectionTooShort,
        SectionTooLong,
        BrokenLink,
        ImageWithoutAlt,
        FrontMatterInvalid,
    ] {
        assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
    }
}
