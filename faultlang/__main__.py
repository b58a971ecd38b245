from faultlang.cli import main

raise SystemExit(main())
