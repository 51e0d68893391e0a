// Tools behind scripts/fsx for the experiment scripts (issue 15):
//   scripts/fsx criteria [--register]   check every scripts/criteria/*.json against versions.lock (register new versions)
//   scripts/fsx table [--check]         regenerate the verdict table of scripts/README.md from reports/<name>/verdicts.json
#load "Common.fsx"
open System
open System.IO
open Common
open CudaAdam.Experiments.Recording

let args = fsi.CommandLineArgs |> Array.skip 1 |> Array.toList
let criteriaDir = Path.Combine(repoRoot, "scripts", "criteria")

let fail (msg: string) =
    eprintfn "scripts/fsx: %s" msg
    exit 2

match args with
| "criteria" :: rest ->
    let register = rest = [ "--register" ]
    if not register && not rest.IsEmpty then fail "usage: scripts/fsx criteria [--register]"
    try
        if register then
            for line in CriteriaFile.Register criteriaDir do printfn "registered: %s" line
        let mutable bad = 0
        for f in Directory.GetFiles(criteriaDir, "*.json") |> Array.sort do
            let c = CriteriaFile.Load(criteriaDir, Path.GetFileNameWithoutExtension f)
            match c.Unregistered with
            | null -> printfn "%-12s version %d  %s  ok" c.Name c.Version (c.Hash.Substring(0, 12))
            | why -> bad <- bad + 1; printfn "%-12s version %d  %s  %s" c.Name c.Version (c.Hash.Substring(0, 12)) why
        if bad > 0 then exit 1
    with :? InvalidDataException as e -> fail e.Message
| "table" :: rest ->
    let check = rest = [ "--check" ]
    if not check && not rest.IsEmpty then fail "usage: scripts/fsx table [--check]"
    let readme = Path.Combine(repoRoot, "scripts", "README.md")
    try
        let text = File.ReadAllText readme
        let table = VerdictTable.Render(repoRoot)
        let updated = VerdictTable.Splice(text, table)
        if check then
            if updated <> text then fail "scripts/README.md's verdict table is not what the reports say: run scripts/fsx table"
            printfn "scripts/README.md's verdict table matches scripts/reports/*/verdicts.json"
        else
            File.WriteAllText(readme, updated)
            printfn "scripts/README.md: verdict table regenerated from %s" (VerdictTable.ReportsDir repoRoot)
    with :? InvalidDataException as e -> fail e.Message
| _ -> fail "usage: scripts/fsx criteria [--register] | scripts/fsx table [--check] | scripts/fsx merge <name> <dir>..."
